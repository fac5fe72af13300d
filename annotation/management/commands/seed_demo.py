from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import transaction

from annotation.models import Campaign, Membership, User
from annotation.services import (
    api_token_create,
    campaign_create,
    membership_add,
    prompts_import,
)

DEMO_PROMPTS = Path(__file__).resolve().parents[2] / "fixtures" / "demo_prompts.jsonl"
DEMO_PASSWORD = "agora-demo"  # noqa: S105 - the demo logins are meant to be public
INSTRUCTIONS = """\
You will see a request and two answers to it, **A** and **B**, written by AI assistants.

1. Read the request and both answers.
2. Pick the answer that is more **helpful, correct and honest**. If they are about equally good,
   choose *About the same*; if neither is acceptable, choose *Both are bad*.
3. Say how much better it is, and, if you like, why.

Judge the content, not the length. The keyboard is fastest: **A**/**B**, then **1**–**3**,
then **Enter**.
"""


class Command(BaseCommand):
    help = "Create the demo campaign, an admin (carol) and two annotators (alice, bob)."

    @transaction.atomic
    def handle(self, *args, **opts) -> None:
        carol = _user("carol", staff=True)
        alice, bob = _user("alice"), _user("bob")
        campaign = Campaign.objects.filter(slug="demo-pairwise").first() or campaign_create(
            name="Demo: which answer is better?",
            slug="demo-pairwise",
            description="Compare two assistant answers to everyday requests.",
            instructions=INSTRUCTIONS,
            settings={"strength_levels": 3, "reason": "optional"},
            overlap=2,
            state=Campaign.State.OPEN,
            created_by=carol,
        )
        membership_add(campaign=campaign, user=carol, role=Membership.Role.ADMIN)
        for annotator in (alice, bob):
            membership_add(campaign=campaign, user=annotator)
        report = prompts_import(
            campaign=campaign, content=DEMO_PROMPTS.read_bytes(), fmt="jsonl", created_by=carol
        )
        # Keys are stored hashed: each run makes a new one, shown only here.
        _token, key = api_token_create(user=carol, name="seed_demo")
        self.stdout.write(
            f"Demo campaign {campaign.slug!r} (id {campaign.id}): {report.conversations_created} "
            f"prompts imported, {report.duplicates} already there.\n"
            f"Logins (password {DEMO_PASSWORD!r}): alice, bob (annotators), carol (admin).\n"
            f"carol's API token: {key}"
        )


def _user(username: str, *, staff: bool = False) -> User:
    user, created = User.objects.get_or_create(
        username=username, defaults={"is_staff": staff, "is_superuser": staff}
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user
