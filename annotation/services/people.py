"""People of a campaign, in bulk: a list of usernames (pasted, uploaded as CSV, sent to the
API or the CLI) added line by line, with a report per line. A name that is not an account is
named and the others are added; with `create`, a new name becomes an account without a
password and its holder gets a personal invite link: signed, expiring, used once, to set a
password and join the campaign.

The list's lines are `username` or `username,role` (a header line `username,role` may lead).
Each line passes the untrusted boundary; a new username passes the rules of the sign-up page
(Django's username check, not taken in any case, no look-alike of a taken one).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from annotation.errors import Gone, NotFound, RuleError
from annotation.models import Campaign, Membership, User
from annotation.selectors.accounts import username_look_alike
from annotation.services.campaigns import membership_add
from webapp.untrusted import Untrusted, value_check

MAX_PEOPLE_LINES = 2000
MAX_LIST_BYTES = 1_000_000
INVITE_SALT = "agora.people.invite"
# An invite link works for this long, and once: setting the password spends it.
INVITE_VALID = timedelta(days=14)

ADDED = "added"  # an existing account, now a member
ALREADY = "already"  # a member already (its role set as asked)
CREATED = "created"  # a new account, with an invite link
UNKNOWN = "unknown"  # no such account (and none made: `create` was off)
INVALID = "invalid"  # the line cannot be a username or a role
DUPLICATE = "duplicate"  # the same name on an earlier line


@dataclass(frozen=True)
class PersonLine:
    line: int
    username: str
    status: str
    message: str
    invite_token: str = ""  # for an account that has yet to set its password


@dataclass
class PeopleReport:
    lines: list[PersonLine] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.lines if r.status in statuses)

    @property
    def added(self) -> int:
        """People who are members now and were not before."""
        return self.count(ADDED, CREATED)

    @property
    def problems(self) -> list[PersonLine]:
        return [r for r in self.lines if r.status in (UNKNOWN, INVALID)]

    def summary(self) -> str:
        n_lines = len(self.lines)
        parts = [f"Added {self.added} of {n_lines} line{'s' if n_lines != 1 else ''}"]
        if n := self.count(CREATED):
            parts.append(f"{n} new account{'s' if n != 1 else ''} with invite links")
        if n := self.count(ALREADY):
            parts.append(f"{n} already {'members' if n != 1 else 'a member'}")
        if self.problems:
            names = ", ".join(r.username or f"line {r.line}" for r in self.problems)
            parts.append(f"not added: {names}")
        return "; ".join(parts) + "."


def people_lines(content: str | bytes) -> list[tuple[int, str, str]]:
    """(line number, username, role or "") for each non-blank line of a pasted list or a CSV
    file; a leading `username[,role]` header is skipped. Refused as a whole only when it is
    not text at all or too long."""
    if len(content) > MAX_LIST_BYTES:
        raise RuleError(
            f"The list is larger than {MAX_LIST_BYTES // 1_000_000} MB.", field="people"
        )
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise RuleError("The file is not UTF-8 text.", field="people") from None
    out: list[tuple[int, str, str]] = []
    for n, cells in enumerate(csv.reader(io.StringIO(content)), start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if not out and cells[0].lower() == "username":
            continue
        out.append((n, cells[0], cells[1] if len(cells) > 1 else ""))
        if len(out) > MAX_PEOPLE_LINES:
            raise RuleError(
                f"The list has more than {MAX_PEOPLE_LINES} people; split it.", field="people"
            )
    if not out:
        raise RuleError("Give at least one username.", field="people")
    return out


def _new_username_problem(username: str) -> str | None:
    """Why this name cannot be a new account (the sign-up page's rules), or None."""
    try:
        User.username_validator(username)
    except ValidationError as e:
        return " ".join(str(m) for m in e.messages)
    if len(username) > 150:
        return "A username has at most 150 characters."
    if User.objects.filter(username__iexact=username).exists():
        return "This username is taken in another case."
    if (other := username_look_alike(username=username)) is not None:
        return f"This username looks too much like {other!r}, which is taken."
    return None


def _unused_mark(user: User) -> str:
    """Changes when the account's password does: a link carries the mark of the account's
    unusable password, so setting one spends every link made before."""
    return salted_hmac(INVITE_SALT, user.password).hexdigest()[:24]


def invite_token_make(*, user: User, campaign: Campaign) -> str:
    """A personal invite link's token: signed (who, which campaign, the mark that setting a
    password spends) and timestamped, honoured for INVITE_VALID."""
    return signing.dumps(
        {"u": user.pk, "c": campaign.pk, "t": _unused_mark(user)},
        salt=INVITE_SALT,
        compress=True,
    )


def _line(
    campaign: Campaign, n: int, raw_name: str, raw_role: str, role: str, create: bool
) -> PersonLine:
    try:
        value_check(raw_name, field=f"line {n}")
        value_check(raw_role, field=f"line {n}")
    except Untrusted as e:
        return PersonLine(n, "", INVALID, e.message)
    username = User.normalize_username(raw_name)
    line_role = raw_role.lower() or role
    if line_role not in Membership.Role.values:
        return PersonLine(
            n, username, INVALID, f"role must be one of {', '.join(Membership.Role.values)}."
        )
    user = User.objects.filter(username=username).first()
    if user is None and not create:
        return PersonLine(n, username, UNKNOWN, f"No account named {username!r}.")
    if user is None:
        if (problem := _new_username_problem(username)) is not None:
            return PersonLine(n, username, INVALID, problem)
        user = User.objects.create_user(username=username, password=None)
        membership_add(campaign=campaign, user=user, role=line_role)
        return PersonLine(
            n, username, CREATED, f"New account, {line_role}: send them the invite link.",
            invite_token_make(user=user, campaign=campaign),
        )  # fmt: skip
    was = Membership.objects.filter(campaign=campaign, user=user).first()
    membership_add(campaign=campaign, user=user, role=line_role)
    # An account made by an earlier list that has not set its password yet: a fresh link.
    token = "" if user.has_usable_password() else invite_token_make(user=user, campaign=campaign)
    if was is not None:
        return PersonLine(n, username, ALREADY, f"Already a member; now {line_role}.", token)
    return PersonLine(n, username, ADDED, f"Added as {line_role}.", token)


def people_add(
    *,
    campaign: Campaign,
    people: str | bytes | Sequence[str],
    role: str = Membership.Role.ANNOTATOR,
    create: bool = False,
) -> PeopleReport:
    """Add a list of people line by line, each line reported: existing accounts become
    members with `role` (or the line's own role); a name that is no account is reported and
    the rest are added, unless `create` makes it an account with an invite link. A name
    twice is added once. One transaction: the report describes what was saved."""
    if role not in Membership.Role.values:
        raise RuleError(f"role must be one of {', '.join(Membership.Role.values)}.", field="role")
    if isinstance(people, str | bytes):
        lines = people_lines(people)
    else:
        lines = people_lines("\n".join(_csv_line(p) for p in people))
    report = PeopleReport()
    seen: dict[str, int] = {}
    with transaction.atomic():
        for n, name, line_role in lines:
            key = User.normalize_username(name).casefold()
            if key in seen:
                report.lines.append(
                    PersonLine(n, name, DUPLICATE, f"The same name as line {seen[key]}.")
                )
                continue
            seen[key] = n
            report.lines.append(_line(campaign, n, name, line_role, role, create))
    return report


def _csv_line(value: str) -> str:
    """One name of a list given as strings, as a CSV line (a comma in it stays in it)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow([str(value)])
    return out.getvalue()


def _invite_payload(token: str) -> dict[str, Any]:
    try:
        payload = signing.loads(token, salt=INVITE_SALT, max_age=INVITE_VALID)
    except signing.SignatureExpired:
        raise Gone(
            _("This invite link has expired; ask the campaign's admin for a new one."),
            code="invite_expired",
        ) from None
    except signing.BadSignature:
        raise NotFound(_("This invite link is not valid."), code="invite_invalid") from None
    if not isinstance(payload, dict):
        raise NotFound(_("This invite link is not valid."), code="invite_invalid")
    return payload


def invite_check(*, token: str) -> tuple[User, Campaign]:
    """Whose invite link this is and to which campaign; refused when it is forged (404),
    expired or already used (410)."""
    payload = _invite_payload(token)
    user = User.objects.filter(pk=payload.get("u", 0), is_active=True).first()
    campaign = Campaign.objects.filter(pk=payload.get("c", 0)).first()
    if user is None or campaign is None:
        raise NotFound(_("This invite link is not valid."), code="invite_invalid")
    if not constant_time_compare(str(payload.get("t", "")), _unused_mark(user)):
        raise Gone(
            _("This invite link has been used: sign in with the password you set."),
            code="invite_used",
        )
    return user, campaign


@transaction.atomic
def invite_accept(*, token: str, password: str) -> tuple[User, Campaign]:
    """Set the invited person's password (spending the link) and make sure they are a member
    of the campaign (as what the list made them; a member still, if nobody changed it)."""
    user, campaign = invite_check(token=token)
    try:
        validate_password(password, user)
    except ValidationError as e:
        raise RuleError(" ".join(e.messages), field="password") from None
    user.set_password(password)
    user.save(update_fields=["password"])
    if not Membership.objects.filter(campaign=campaign, user=user).exists():
        membership_add(campaign=campaign, user=user)
    return user, campaign
