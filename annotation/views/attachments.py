"""Serving the files messages carry, only to those who may see the campaign's tasks."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from annotation import selectors
from annotation.http import AuthedHttpRequest


@login_required
@require_GET
def attachment_file(request: AuthedHttpRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_visible(user=request.user, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such file.")
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    # The type was checked at upload; the browser shows it as that type and nothing else
    # (no script, no sniffing into HTML), and keeps it out of shared caches.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    response["Cache-Control"] = "private, max-age=3600"
    return response
