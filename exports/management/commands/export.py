import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.errors import RuleError
from annotation.management.commands.import_prompts import campaign_from_arg
from exports.formats import FORMATS
from exports.services import export_jsonl_stream, export_to_file


class Command(BaseCommand):
    help = "Export a campaign's judgments as JSON Lines in one of the dataset formats."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="Campaign id or slug.")
        parser.add_argument("--format", choices=list(FORMATS), default="preference")
        parser.add_argument("--output", "-o", type=Path, help="File to write (default: stdout).")

    def handle(self, *args, **opts) -> None:
        campaign = campaign_from_arg(opts["campaign"])
        try:
            if opts["output"]:
                n = export_to_file(campaign=campaign, fmt=opts["format"], path=opts["output"])
                self.stderr.write(f"Wrote {n} rows to {opts['output']}.")
            else:
                for line in export_jsonl_stream(campaign=campaign, fmt=opts["format"]):
                    sys.stdout.buffer.write(line)
        except RuleError as e:
            raise CommandError(e.message) from e
