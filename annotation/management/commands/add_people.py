import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from annotation.errors import RuleError
from annotation.management.arguments import campaign_from_arg
from annotation.models import Membership
from annotation.services import people_add
from annotation.services.people import MAX_LIST_BYTES


class Command(BaseCommand):
    help = (
        "Add people to a campaign from a list (a username a line, or a CSV with a username and "
        "an optional role column), with a result per line; --create makes accounts of new "
        "names, each with a personal invite link to set a password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="Campaign id or slug.")
        parser.add_argument("file", type=Path, help="The list; - reads standard input.")
        parser.add_argument("--role", choices=Membership.Role.values, default="annotator")
        parser.add_argument("--create", action="store_true", help="Make accounts of new names.")
        parser.add_argument(
            "--base-url",
            default="http://localhost:8000",
            help="Where people open Agora, for the invite links (default %(default)s).",
        )

    def handle(self, *args, **opts) -> None:
        campaign = campaign_from_arg(opts["campaign"])
        path: Path = opts["file"]
        if str(path) == "-":
            content = sys.stdin.buffer.read(MAX_LIST_BYTES + 1)
        elif path.is_file():
            with path.open("rb") as f:
                content = f.read(MAX_LIST_BYTES + 1)
        else:
            raise CommandError(f"No such file: {path}")
        try:
            report = people_add(
                campaign=campaign, people=content, role=opts["role"], create=opts["create"]
            )
        except RuleError as e:
            raise CommandError(e.message) from None
        base = opts["base_url"].rstrip("/")
        for line in report.lines:
            link = (
                f" {base}{reverse('invite', args=[line.invite_token])}" if line.invite_token else ""
            )
            self.stdout.write(
                f"line {line.line}  {line.username or '-'}  {line.status}  {line.message}{link}"
            )
        self.stdout.write(report.summary())
