"""Serving the files messages carry, only to those who may see the campaign's tasks."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.views.decorators.http import require_GET

from annotation import selectors
from annotation.http import AuthedHttpRequest, file_headers


@login_required
@require_GET
def attachment_file(request: AuthedHttpRequest, attachment_id: int) -> FileResponse:
    attachment = selectors.attachment_visible(user=request.user, attachment_id=attachment_id)
    if attachment is None:
        raise Http404("No such file.")
    response = FileResponse(attachment.file.open("rb"), content_type=attachment.content_type)
    # The type was checked at upload; shown as that type only, and kept out of shared caches.
    file_headers(response, disposition="inline")
    response["Cache-Control"] = "private, max-age=3600"
    return response
