from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.management.arguments import campaign_from_arg
from annotation.prompt_files import prompt_file_format
from annotation.services import prompts_import


class Command(BaseCommand):
    help = "Import prompts (JSONL or CSV) into a campaign, with a report of every bad line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="Campaign id or slug.")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["jsonl", "csv"], default=None)

    def handle(self, *args, **opts) -> None:
        campaign = campaign_from_arg(opts["campaign"])
        path: Path = opts["file"]
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        fmt = opts["format"] or prompt_file_format(path.name)
        report = prompts_import(campaign=campaign, content=path.read_bytes(), fmt=fmt)
        for line in report.lines:
            if line["status"] != "created":
                self.stderr.write(f"line {line['line']}: {line['status']}: {line['message']}")
        if not report.ok:
            raise CommandError(f"{report.errors} bad line(s); nothing was imported.")
        self.stdout.write(
            f"Imported {report.conversations_created} prompts, created {report.tasks_created} "
            f"tasks ({report.duplicates} already imported)."
        )
