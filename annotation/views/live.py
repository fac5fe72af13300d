"""The live chat pages (PRISM's live conversations): the participant writes a turn, watches
the replies stream in (htmx polls the turn while the workers write it), rates each reply and
carries on with the one they chose. Each view parses the request and calls one service."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation import access
from annotation.errors import RuleError
from annotation.http import AuthedHttpRequest
from annotation.kinds import kind_for
from annotation.kinds.rating import chosen_attribute
from annotation.models import Campaign, Conversation
from annotation.selectors import live as live_selectors
from annotation.selectors.studies import guidance_for, study_of
from annotation.services.studies.gate import STUDY_CODE
from annotation.views.base import form_draft, judgment_from_form, refused_status
from generation import selectors as generation_selectors
from generation import services as generation_services

# The page asks for the streaming replies this often.
POLL = "every 500ms"


def _live_campaign(request: AuthedHttpRequest, campaign_id: int) -> Campaign:
    campaign = access.campaign_for_annotator(user=request.user, campaign_id=campaign_id)
    if campaign.live_first_replies < 1:
        raise Http404("This campaign has no live chat.")
    return campaign


def _my_conversation(
    request: AuthedHttpRequest, campaign: Campaign, conversation_id: int
) -> Conversation:
    """One of this participant's own live conversations; anyone else's is not found."""
    conversation = live_selectors.live_conversation_of(
        campaign=campaign, user=request.user, conversation_id=conversation_id
    )
    if conversation is None:
        raise Http404("No such conversation.")
    return conversation


@login_required
@require_http_methods(["GET", "POST"])
def live_chat_list(request: AuthedHttpRequest, campaign_id: int) -> HttpResponse:
    campaign = _live_campaign(request, campaign_id)
    error, status = "", 200
    if request.method == "POST":
        try:
            conversation = generation_services.live_chat_start(
                campaign=campaign,
                participant=request.user,
                text=request.POST.get("text", ""),
                prism_type=request.POST.get("conversation_type", ""),
            )
        except RuleError as e:
            if e.code == STUDY_CODE:
                return redirect("study_next", campaign.slug)
            error, status = e.message, refused_status(e)
        else:
            return redirect("live_chat", campaign_id=campaign.id, conversation_id=conversation.id)
    conversations = generation_selectors.live_conversations_of(
        campaign=campaign, participant_id=request.user.id
    )
    return render(
        request,
        "annotation/live_chats.html",
        {
            "campaign": campaign,
            "conversations": conversations,
            "error": error,
            "text": request.POST.get("text", ""),
            "types": _conversation_types(campaign),
            "chosen_type": request.POST.get("conversation_type", ""),
        },
        status=status,
    )


def _conversation_types(campaign: Campaign) -> list[tuple[str, str, str]]:
    """PRISM's conversation types with the guidance a participant reads before choosing one:
    offered in a study (whose guidance may replace the defaults); none elsewhere."""
    study = study_of(campaign=campaign)
    if study is None:
        return []
    return [
        (value, str(label), guidance_for(study=study, prism_type=value))
        for value, label in Conversation.PrismType.choices
    ]


def _chat_response(
    request: AuthedHttpRequest,
    campaign: Campaign,
    conversation: Conversation,
    *,
    error: str = "",
    form: QueryDict | None = None,
    status: int = 200,
    fragment: bool = False,
) -> HttpResponse:
    turns = generation_selectors.live_chat_turns(
        conversation=conversation, chosen_attribute=chosen_attribute(campaign.settings)
    )
    current = turns[-1] if turns else None
    kind = kind_for(Campaign.Kind.RATING)
    settings = kind.settings(campaign.settings)
    rating = current is not None and current.assignment is not None and current.judgment is None
    replies = current.replies if rating and current is not None else []
    context: dict[str, Any] = {
        "campaign": campaign,
        "conversation": conversation,
        "earlier": turns[:-1],
        "turn": current,
        "rating": rating,
        "settings": settings,
        "kind": kind,
        "candidates": [(r.letter, r.message) for r in replies],
        "idempotency_key": uuid.uuid4().hex,
        "can_continue": current is not None
        and current.judgment is not None
        and len(turns) < campaign.live_max_turns,
        "turns_left": campaign.live_max_turns - len(turns),
        "poll": POLL,
        "guidance": guidance_for(
            study=study_of(campaign=campaign),
            prism_type=conversation.prism_type,
        )
        if conversation.prism_type and not fragment
        else "",
        "error": error,
        "form": form or {},
    }
    if form:
        context["draft"] = form_draft(form)
    template = "annotation/_live_turn.html" if fragment else "annotation/live_chat.html"
    return render(request, template, context, status=status)


def _refused(
    request: AuthedHttpRequest, campaign: Campaign, conversation: Conversation, e: RuleError
) -> HttpResponse:
    """The conversation again with the service's reason and everything the person entered."""
    return _chat_response(
        request,
        campaign,
        conversation,
        error=e.message,
        form=request.POST,
        status=refused_status(e),
    )


@login_required
@require_GET
def live_chat(request: AuthedHttpRequest, campaign_id: int, conversation_id: int) -> HttpResponse:
    campaign = _live_campaign(request, campaign_id)
    conversation = _my_conversation(request, campaign, conversation_id)
    return _chat_response(request, campaign, conversation)


@login_required
@require_GET
def live_chat_turn(
    request: AuthedHttpRequest, campaign_id: int, conversation_id: int
) -> HttpResponse:
    """The current turn alone: what htmx polls while the replies stream."""
    campaign = _live_campaign(request, campaign_id)
    conversation = _my_conversation(request, campaign, conversation_id)
    return _chat_response(request, campaign, conversation, fragment=True)


@login_required
@require_POST
def live_chat_rate(
    request: AuthedHttpRequest, campaign_id: int, conversation_id: int, assignment_id: int
) -> HttpResponse:
    campaign = _live_campaign(request, campaign_id)
    conversation = _my_conversation(request, campaign, conversation_id)
    assignment = live_selectors.live_turn_assignment(
        conversation=conversation, user=request.user, assignment_id=assignment_id
    )
    if assignment is None:
        raise Http404("No such turn.")
    kind = kind_for(Campaign.Kind.RATING)
    try:
        judgment_from_form(
            request, assignment=assignment, kind=kind, settings=kind.settings(campaign.settings)
        )
    except RuleError as e:
        return _refused(request, campaign, conversation, e)
    return redirect("live_chat", campaign_id=campaign.id, conversation_id=conversation.id)


@login_required
@require_POST
def live_chat_say(
    request: AuthedHttpRequest, campaign_id: int, conversation_id: int
) -> HttpResponse:
    campaign = _live_campaign(request, campaign_id)
    conversation = _my_conversation(request, campaign, conversation_id)
    try:
        generation_services.live_chat_say(
            conversation=conversation, participant=request.user, text=request.POST.get("text", "")
        )
    except RuleError as e:
        return _refused(request, campaign, conversation, e)
    return redirect("live_chat", campaign_id=campaign.id, conversation_id=conversation.id)


@login_required
@require_POST
def live_chat_retry(
    request: AuthedHttpRequest, campaign_id: int, conversation_id: int
) -> HttpResponse:
    campaign = _live_campaign(request, campaign_id)
    conversation = _my_conversation(request, campaign, conversation_id)
    generation_services.live_turn_retry(conversation=conversation, participant=request.user)
    return redirect("live_chat", campaign_id=campaign.id, conversation_id=conversation.id)
