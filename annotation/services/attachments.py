"""Keeping the files a message carries (checked by annotation.attachments) in the default
storage: var/media on a bare machine, a bucket through django-storages in production."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.core.files.base import ContentFile

from annotation.attachments import CheckedFile
from annotation.models import Attachment, Message


def attachments_store(*, message: Message, files: Sequence[CheckedFile]) -> list[Attachment]:
    """Keep checked files with their message, in the default storage, in the given order."""
    out = []
    for position, f in enumerate(files):
        digest = hashlib.sha256(f.data).hexdigest()
        attachment = Attachment(
            message=message,
            kind=f.kind,
            name=f.name,
            content_type=f.content_type,
            size=len(f.data),
            width=f.width,
            height=f.height,
            sha256=digest,
            position=position,
        )
        # Named by content, never by the uploader's file name.
        attachment.file.save(f"{digest[:32]}.{f.extension}", ContentFile(f.data), save=False)
        attachment.save()
        out.append(attachment)
    return out


def message_files_add(*, message_id: int, files: Sequence[CheckedFile]) -> list[Attachment]:
    """Files for a message just written (a prompt with images); the message's metadata says
    it carries them, so that pages over messages without files never look for any."""
    message = Message.objects.get(id=message_id)
    stored = attachments_store(message=message, files=files)
    message.metadata = {**message.metadata, "attachments": len(stored)}
    message.save(update_fields=["metadata"])
    return stored
