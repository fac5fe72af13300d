"""Who may join a study: one rule for every way in.

The ways in are the study's pages (open sign-up, the invitation link, a signed-in person's
"next step"), the crowd platform's study link (?PROLIFIC_PID=...) and, for a public campaign,
asking for a task. Each asks `join_check` before anything is made; someone already in (a
membership of the campaign) is never refused by it.
"""

from __future__ import annotations

import secrets

from django.utils.translation import gettext as _

from annotation.errors import Forbidden
from annotation.models import Membership, Study, User

JOIN_REFUSED = "invitation_only"


def _invited(study: Study, token: str) -> bool:
    return (
        bool(token)
        and bool(study.invitation_token)
        and secrets.compare_digest(token, study.invitation_token)
    )


def join_allowed(
    *, study: Study, user: User | None = None, token: str = "", crowd_link: bool = False
) -> bool:
    """Open sign-up; a valid invitation; the crowd link, where the study takes crowd links;
    or a place in the campaign already (given by its admins, or taken before)."""
    if study.signup_open or _invited(study, token):
        return True
    if crowd_link and study.crowd_links_open:
        return True
    return (
        user is not None
        and user.pk is not None
        and Membership.objects.filter(campaign_id=study.campaign_id, user=user).exists()
    )


def join_check(
    *, study: Study, user: User | None = None, token: str = "", crowd_link: bool = False
) -> None:
    """join_allowed, or a Forbidden saying why not (code "invitation_only")."""
    if join_allowed(study=study, user=user, token=token, crowd_link=crowd_link):
        return
    if token:
        message = _("This invitation link is no longer valid.")
    elif crowd_link:
        message = _(
            "This study takes participants by invitation only: its study link does not sign "
            "up new participants."
        )
    else:
        message = _("This study takes participants by invitation only.")
    raise Forbidden(message, code=JOIN_REFUSED)
