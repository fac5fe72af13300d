"""PRISM's conversation types and the guidance a participant reads before each one.

The defaults follow the PRISM study's own instructions; a study may replace any of them
(Study.guidance). The task page shows the guidance of the task's conversation type, and the
`prism` export carries it with every conversation.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

from ..models import Conversation, Study

DEFAULT: dict[str, Any] = {
    Conversation.PrismType.UNGUIDED: _(
        "Ask, request or talk to the model about anything. It is up to you!"
    ),
    Conversation.PrismType.VALUES_GUIDED: _(
        "Ask, request or talk to the model about something important to you or that "
        "represents your values. This could be related to work, religion, family and "
        "relationships, politics or culture."
    ),
    Conversation.PrismType.CONTROVERSY_GUIDED: _(
        "Ask, request or talk to the model about something controversial or where people "
        "would disagree in your community, culture or country."
    ),
}


def guidance_for(*, study: Study | None, prism_type: str) -> str:
    """The guidance shown for conversations of this type ("" for a conversation without)."""
    if not prism_type:
        return ""
    custom = ((study.guidance if study else None) or {}).get(prism_type)
    if isinstance(custom, str) and custom.strip():
        return custom
    return str(DEFAULT.get(prism_type, ""))
