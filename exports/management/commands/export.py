"""`manage.py export <campaign> --format preference --to out/ --as parquet`."""

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import RuleError
from annotation.management.arguments import campaign_from_arg
from exports.formats import FORMATS
from exports.options import CONTAINERS
from exports.services import (
    EXTENSIONS,
    export_jsonl_stream,
    export_plan,
    export_size,
    export_write,
)

# Command-line flags for the export options (see docs/exports.md).
FLAGS: list[tuple[str, dict[str, Any]]] = [
    ("--kinds", {"help": "Judgment kinds to read, comma-separated."}),
    ("--since", {"help": "Only judgments made at or after this ISO date or time."}),
    ("--until", {"help": "Only judgments made before this ISO date or time."}),
    ("--include-flagged", {"action": "store_true", "default": None}),
    ("--include-gold", {"action": "store_true", "default": None}),
    ("--include-repeats", {"action": "store_true", "default": None}),
    ("--round", {"help": "Only tasks of this collection round."}),
    ("--table", {"help": "oasst: trees|messages; prism: survey|conversations|utterances."}),
    ("--pairs", {"choices": ["all", "best_vs_worst"]}),
    ("--rating-attribute", {"help": "The rated attribute that orders responses."}),
    ("--keep-ties", {"action": "store_true", "default": None}),
    ("--aggregate", {"choices": ["none", "majority", "adjudicated"]}),
    ("--min-agreement", {"help": "Drop pairs whose annotators agree less (0 to 1)."}),
    ("--max-similarity", {"help": "Drop pairs whose responses are at least this alike."}),
    ("--similarity", {"choices": ["jaccard", "difflib"]}),
    (
        "--text",
        {
            "action": "store_true",
            "default": None,
            "help": "preference, kto, ratings: strings instead of message lists, with role cues "
            "(User: ... Assistant:).",
        },
    ),
    (
        "--chat-template",
        {
            "metavar": "MODEL",
            "help": "With --text (implied): write the strings with this registered model's chat "
            "template.",
        },
    ),
    ("--threshold", {"help": "kto: a rating at or above it is desirable."}),
    ("--all-trees", {"action": "store_true", "default": None}),
    (
        "--image-bytes",
        {
            "action": "store_true",
            "default": None,
            "help": "judgments: each prompt image's bytes beside its path.",
        },
    ),
    (
        "--images",
        {
            "action": argparse.BooleanOptionalAction,
            "default": None,
            "help": "preference, kto: an images column (default: where the prompts have images).",
        },
    ),
    ("--license", {"help": "The dataset card's licence id (default: unknown)."}),
]


class Command(BaseCommand):
    help = (
        "Export a campaign in one of the dataset formats, as JSON Lines, Parquet or a Hugging "
        "Face dataset folder. Without --to or --output, JSON Lines go to stdout."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="Campaign id or slug.")
        parser.add_argument("--format", choices=list(FORMATS), default="preference")
        parser.add_argument("--as", dest="container", choices=CONTAINERS, default="jsonl")
        parser.add_argument(
            "--to", type=Path, help="Folder to write into, named <campaign>-<format>[-<table>]."
        )
        parser.add_argument("--output", "-o", type=Path, help="Exact file or folder to write.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
        for flag, kwargs in FLAGS:
            parser.add_argument(flag, **kwargs)

    def handle(self, *args: Any, **opts: Any) -> None:
        campaign = campaign_from_arg(opts["campaign"])
        fmt, container = opts["format"], opts["container"]
        options = {
            flag[2:].replace("-", "_"): opts[flag[2:].replace("-", "_")]
            for flag, _ in FLAGS
            if opts[flag[2:].replace("-", "_")] is not None
        }
        try:
            if not opts["to"] and not opts["output"]:
                if container != "jsonl":
                    raise CommandError(f"--as {container} needs --to or --output.")
                for line in export_jsonl_stream(campaign=campaign, fmt=fmt, **options):
                    sys.stdout.buffer.write(line)
                return
            plan = export_plan(
                campaign=campaign, fmt=fmt, container=container, options=options,
                all_tables=True,
            )  # fmt: skip
            written: list[Path] = []
            try:
                for table in plan.tables if container != "hf" else [None]:
                    written.append(self._write(campaign, plan, table, opts))
            except BaseException:
                # One export, one outcome: the tables written before the one that failed go.
                for path in written:
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
                raise
        except RuleError as e:
            raise CommandError(f"{e.field}: {e.message}" if e.field else e.message) from e

    def _write(self, campaign: Any, plan: Any, table: str | None, opts: dict[str, Any]) -> Path:
        options = plan.options.as_dict()
        if table is not None:
            options["table"] = table
        suffix = f"-{table}" if table and len(plan.format.tables) > 1 else ""
        path = opts["output"]
        if path is None or (len(plan.tables) > 1 and plan.container != "hf"):
            folder = opts["to"] or (path.parent if path else Path("."))
            folder.mkdir(parents=True, exist_ok=True)
            name = f"{campaign.slug}-{plan.format.name}{suffix}{EXTENSIONS[plan.container]}"
            path = folder / name
        bar = None
        if not opts["no_progress"]:
            from tqdm import tqdm

            sub = export_plan(
                campaign=campaign, fmt=plan.format.name, container=plan.container,
                options=options,
            )  # fmt: skip
            bar = tqdm(
                total=export_size(campaign=campaign, plan=sub),
                desc=path.name,
                unit=" read",
                file=sys.stderr,
                dynamic_ncols=True,
            )
        try:
            result = export_write(
                campaign=campaign,
                fmt=plan.format.name,
                container=plan.container,
                path=path,
                options=options,
                progress=bar.update if bar else None,
            )
        finally:
            if bar is not None:
                bar.close()
        tables = ", ".join(f"{k}: {v}" for k, v in result.tables.items())
        self.stderr.write(f"Wrote {result.rows} rows to {result.path} ({tables}).")
        return result.path
