"""The README.md dataset card of a Hugging Face dataset folder: YAML front matter the Hub and
`datasets` read (configs, licence, features, counts), and a page saying what was collected,
how, and by how many people (never who)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from django.db.models import Count, Max, Min
from django.utils import timezone

from .formats.context import ExportContext
from .formats.spec import Format

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


def card_render(
    *,
    ctx: ExportContext,
    fmt: Format,
    configs: list[ConfigInfo],
    exported_at: datetime | None,
    empty: Sequence[str] = (),
) -> str:
    """The card of a folder of `configs`; `empty` names the tables left out for want of rows
    (`datasets` cannot load a config without rows)."""
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
    stats = (
        ctx.judgments(fmt.kinds).aggregate(
            judgments=Count("id"),
            annotators=Count("annotator_id", distinct=True),
            tasks=Count("task_id", distinct=True),
            first=Min("created_at"),
            last=Max("created_at"),
        )
        if fmt.kinds
        else {}
    )
    models = sorted(set(campaign.language_models.values_list("name", flat=True)))
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
        f"- Task: `{campaign.task_kind}`, each task judged by up to {campaign.overlap} "
        f"annotators, under version {campaign.instructions_version} of the instructions.",
    ]
    if stats:
        lines += [
            f"- {stats['judgments']} judgments of {stats['tasks']} tasks by "
            f"{stats['annotators']} annotators"
            + (
                f", made between {stats['first']:%Y-%m-%d} and {stats['last']:%Y-%m-%d}."
                if stats["first"]
                else "."
            ),
        ]
    if models:
        lines.append("- Responses from: " + ", ".join(f"`{m}`" for m in models) + ".")
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
