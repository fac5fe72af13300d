"""Campaigns as code (docs/campaign-spec.md):

manage.py campaign apply spec.yaml --user carol   # create, or update the spec's slug
manage.py campaign spec my-campaign > spec.yaml   # the campaign's spec (--format json)
manage.py campaign state my-campaign open         # open, paused or closed
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotation.campaign_spec import spec_yaml
from annotation.errors import RuleError
from annotation.management.arguments import campaign_from_arg
from annotation.models import User
from annotation.selectors.campaign_spec import campaign_spec_of
from annotation.services import campaign_state_set
from annotation.services.campaign_spec import campaign_spec_apply


class Command(BaseCommand):
    help = "Apply a campaign spec (YAML or JSON), write a campaign's spec, or change its state."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        apply = sub.add_parser("apply", help="Create the campaign, or update the spec's slug.")
        apply.add_argument("file", help="The spec file (.yaml or .json); - reads stdin.")
        apply.add_argument(
            "--user",
            help="Who applies it: a new campaign's admin; an existing one must be theirs. "
            "Without it, only an existing campaign may be updated.",
        )
        spec = sub.add_parser("spec", help="Write a campaign's spec to stdout.")
        spec.add_argument("campaign", help="Campaign id or slug.")
        spec.add_argument("--format", choices=["yaml", "json"], default="yaml")
        state = sub.add_parser("state", help="Open, pause or close a campaign.")
        state.add_argument("campaign", help="Campaign id or slug.")
        state.add_argument("state", choices=["open", "paused", "closed"])

    def handle(self, *args, **opts) -> None:
        try:
            getattr(self, f"_{opts['action']}")(opts)
        except RuleError as e:
            raise CommandError(e.message) from None

    def _apply(self, opts: dict) -> None:
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"No user named {opts['user']!r}.")
        if opts["file"] == "-":
            text = sys.stdin.buffer.read()
        else:
            path = Path(opts["file"])
            if not path.is_file():
                raise CommandError(f"No such file: {path}")
            text = path.read_bytes()
        applied = campaign_spec_apply(spec=text, user=user)
        c = applied.campaign
        verb = "Created" if applied.created else "Updated"
        self.stdout.write(f"{verb} campaign {c.id} ({c.slug}), {c.state}.")

    def _spec(self, opts: dict) -> None:
        spec = campaign_spec_of(campaign=campaign_from_arg(opts["campaign"]))
        if opts["format"] == "json":
            self.stdout.write(json.dumps(spec, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(spec_yaml(spec), ending="")

    def _state(self, opts: dict) -> None:
        campaign = campaign_state_set(
            campaign=campaign_from_arg(opts["campaign"]), state=opts["state"]
        )
        self.stdout.write(f"Campaign {campaign.id} ({campaign.slug}) is {campaign.state}.")
