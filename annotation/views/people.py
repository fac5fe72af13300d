"""The invite link of a person an admin added by name (annotation.services.people): set a
password, and go straight to the campaign's first task."""

from __future__ import annotations

from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotation import services
from annotation.errors import RuleError

BACKEND = "django.contrib.auth.backends.ModelBackend"


@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user, campaign = services.invite_check(token=token)
    except RuleError as e:
        return render(request, "annotation/invite.html", {"refused": e.message}, status=e.status)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            user, campaign = services.invite_accept(
                token=token, password=form.cleaned_data["new_password1"]
            )
        except RuleError as e:
            form.add_error(None, e.message)
        else:
            login(request, user, backend=BACKEND)
            return redirect("campaign_task", campaign_id=campaign.id)
    return render(
        request,
        "annotation/invite.html",
        {"form": form, "invitee": user, "invite_campaign": campaign},
        status=422 if form.errors else 200,
    )
