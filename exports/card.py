"""The README.md dataset card of a Hugging Face dataset folder: YAML front matter the Hub and
`datasets` read (configs, licence, features, counts), and a page saying what was collected,
how, and by how many people (never who)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml
from django.utils import timezone

from annotation.models import Campaign

from .formats.context import ExportContext
from .formats.spec import Format, either

SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
]


def size_category(n: int) -> str:
    return next((name for limit, name in SIZE_CATEGORIES if n < limit), "1B<n<10B")


@dataclass
class ConfigInfo:
    name: str
    path: str  # data files, relative to the folder, a glob
    rows: int
    num_bytes: int
    download_size: int
    features: list[dict[str, Any]]


# Where the rows say what the card tells: the columns (a dotted path reaches into a list of
# structs) each fact is read from, in every format that has them.
FACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "models": (
        "chosen_model",
        "rejected_model",
        "model",
        "model_name",
        "candidates.model",
        "conversation_history.model_name",
    ),
    "instructions": ("instructions_version",),
    "kinds": ("source_kind", "kind"),
    "judgments": ("judgment_id", "judgment_ids"),
    "tasks": ("task_id",),
    "conversations": ("conversation_id",),
    "people": ("annotator",),
    "participants": ("user_id",),
    "messages": ("message_id",),
    "trees": ("message_tree_id",),
    "times": ("created_at",),
}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _leaf(batch: pa.RecordBatch, path: str) -> pa.Array | None:
    """A column's values, or a nested field's (lists flattened), of one batch."""
    top, *rest = path.split(".")
    if top not in batch.schema.names:
        return None
    values: Any = batch.column(top)
    for part in rest:
        if pa.types.is_list(values.type):
            values = pc.list_flatten(values)
        values = pc.struct_field(values, part)
    if pa.types.is_list(values.type):
        values = pc.list_flatten(values)
    return values.drop_null()


@dataclass
class RowFacts:
    """What a folder's rows say, for its card: the distinct values of each fact's columns."""

    values: dict[str, list[pa.Array]] = field(default_factory=dict)

    @classmethod
    def read(cls, files: Sequence[Path]) -> RowFacts:
        """The facts of Parquet files, read a row group at a time, only the columns needed
        (after the rows are written: nothing of this is in the export's loop)."""
        facts = cls()
        for path in files:
            parquet = pq.ParquetFile(path)
            tops = {p.split(".")[0] for paths in FACT_COLUMNS.values() for p in paths}
            columns = [n for n in parquet.schema_arrow.names if n in tops]
            for batch in parquet.iter_batches(columns=columns):
                for fact, paths in FACT_COLUMNS.items():
                    for p in paths:
                        values = _leaf(batch, p)
                        if values is not None and len(values):
                            facts.values.setdefault(fact, []).append(pc.unique(values))
        return facts

    def merge(self, other: RowFacts) -> None:
        for fact, arrays in other.values.items():
            self.values.setdefault(fact, []).extend(arrays)

    def distinct(self, fact: str) -> list[Any]:
        arrays = self.values.get(fact)
        if not arrays:
            return []
        return sorted(pc.unique(pa.chunked_array(arrays)).to_pylist())

    def count(self, fact: str) -> int | None:
        """How many distinct values; None when no rows have the fact's columns."""
        if fact not in self.values:
            return None
        return len(self.distinct(fact))

    def lines(self, ctx: ExportContext) -> list[str]:
        campaign = ctx.campaign
        # Rows that do not name their judgments' kinds (oasst's messages, prism's survey):
        # the kinds of the judgments the export read.
        kinds = self.distinct("kinds") or sorted(
            set(ctx.judgments(Campaign.Kind.values).values_list("kind", flat=True).distinct())
        )
        versions = [str(v) for v in self.distinct("instructions")]
        task = f"- Task: {either([f'`{k}`' for k in kinds or [campaign.task_kind]], 'and')}"
        task += f", each task judged by up to {_n(campaign.overlap, 'annotator')}"
        if versions:
            many = "s" if len(versions) > 1 else ""
            task += f", under version{many} {either(versions, 'and')} of the instructions"
        out = [task + "."]
        times = self.distinct("times")
        when = f", made between {times[0][:10]} and {times[-1][:10]}" if times else ""
        people = self.count("people") or self.count("participants") or 0
        if (judgments := self.count("judgments")) is not None:
            of = ""
            if (tasks := self.count("tasks")) is not None:
                of = f" of {_n(tasks, 'task')}"
            elif (conversations := self.count("conversations")) is not None:
                of = f" of {_n(conversations, 'conversation')}"
            out.append(f"- {_n(judgments, 'judgment')}{of} by {_n(people, 'annotator')}{when}.")
        elif (messages := self.count("messages")) is not None:
            trees = self.count("trees")
            in_trees = f" in {_n(trees, 'tree')}" if trees is not None else ""
            by = f"{people} {'person' if people == 1 else 'people'}"
            by += " and models" if self.distinct("models") else ""
            out.append(f"- {_n(messages, 'message')}{in_trees}, written by {by}.")
        elif people:
            out.append(f"- {_n(people, 'participant')}.")
        if models := self.distinct("models"):
            out.append("- Responses from: " + ", ".join(f"`{m}`" for m in models) + ".")
        return out


def card_render(
    *,
    ctx: ExportContext,
    fmt: Format,
    configs: list[ConfigInfo],
    facts: RowFacts,
    exported_at: datetime | None,
    empty: Sequence[str] = (),
) -> str:
    """The card of a folder of `configs`, saying what `facts` (read from its files) say;
    `empty` names the tables left out for want of rows (`datasets` cannot load a config
    without rows)."""
    campaign = ctx.campaign
    exported_at = exported_at or timezone.now()
    largest = max((c.rows for c in configs), default=0)
    front: dict[str, Any] = {
        "pretty_name": f"{campaign.name} ({fmt.name})",
        "license": ctx.options.license,
        "tags": ["agora", *fmt.tags],
        "size_categories": [size_category(largest)],
        "task_categories": list(fmt.task_categories),
        "configs": [
            {
                "config_name": c.name,
                **({"default": True} if i == 0 and len(configs) > 1 else {}),
                "data_files": [{"split": "train", "path": c.path}],
            }
            for i, c in enumerate(configs)
        ],
        "dataset_info": [
            {
                "config_name": c.name,
                "features": c.features,
                "splits": [{"name": "train", "num_bytes": c.num_bytes, "num_examples": c.rows}],
                "download_size": c.download_size,
                "dataset_size": c.num_bytes,
            }
            for c in configs
        ],
        # Agora's own keys (the Hub keeps keys it does not know).
        "schema_version": fmt.version,
    }
    options = ctx.options.as_dict()
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {campaign.name} ({fmt.name})",
        "",
        f"{fmt.summary} Exported from the Agora campaign `{campaign.slug}` on "
        f"{exported_at:%Y-%m-%d %H:%M} UTC, in the `{fmt.version}` schema "
        "(every column is documented in Agora's `docs/exports.md`).",
        "",
        "## What was collected, and how",
        "",
        f"- Campaign: {campaign.name}"
        + (f" — {campaign.description}" if campaign.description else ""),
        *facts.lines(ctx),
    ]
    lines += [
        "- Annotators appear under pseudonymous ids that are stable within this campaign and "
        "differ in every other; nothing in the data names them.",
        "- Held out: judgments by annotators an admin flagged"
        + (" (included here on request)" if ctx.options.include_flagged else "")
        + ", judgments on gold (known-answer) tasks"
        + (" (included here on request)" if ctx.options.include_gold else "")
        + ", and everything from anyone who withdrew consent.",
        "- Export options: "
        + (", ".join(f"`{k}={v}`" for k, v in options.items()) if options else "the defaults")
        + ".",
        *([_text_line(ctx.options.chat_template)] if ctx.options.text else []),
        "",
        *(
            [
                "## Differences from the published dataset",
                "",
                f"The columns follow {fmt.published}, except:",
                "",
                *[f"- {line}" for line in fmt.differences],
                "",
            ]
            if fmt.differences
            else []
        ),
        "## Configurations",
        "",
        "| config | rows |",
        "| --- | --- |",
        *[f"| `{c.name}` | {c.rows} |" for c in configs],
        *[f"| `{name}` | 0 (left out: no rows) |" for name in empty],
        "",
        "## Loading",
        "",
        "```python",
        "import datasets",
        "",
        f'ds = datasets.load_dataset("path/to/this/folder", "{configs[0].name}", split="train")'
        if configs
        else "",
        "```",
        "",
        "## Licence",
        "",
        f"`{ctx.options.license}`"
        + (
            ": the campaign's admins have not named a licence for this export."
            if ctx.options.license == "unknown"
            else "."
        ),
        "",
    ]
    return "\n".join(lines)


def _text_line(chat_template: str | None) -> str:
    """How the text variant's strings are laid out (docs/exports.md, "The text variant")."""
    how = (
        f"in the chat template of the model `{chat_template}`"
        if chat_template
        else "in Agora's plain layout: `System: ...`, `User: ...` and `Assistant: ...` blocks "
        "separated by blank lines, the prompt ending with `Assistant:` and a completion "
        "starting with a space"
    )
    return (
        "- Text: each prompt ends with the assistant's cue and prompt + completion is the whole "
        f"conversation, written {how}."
    )
