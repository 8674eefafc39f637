"""A file uploaded as a multipart form (an MMS attachment for a reply or a campaign): the form's
shape for the API schema, reading its one file, and the answer naming what was kept."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from hub.services.errors import Invalid
from hub.store.messages import StoredMedia


class UploadForm(msgspec.Struct):
    """The multipart form of an upload: one file field."""

    file: Annotated[bytes, msgspec.Meta(description="the image, audio or video file")]


class AttachmentOut(msgspec.Struct):
    """A file kept for a message: name its `id` in the message's (or campaign's) `media`."""

    id: str
    mime: str
    kind: str
    size: int
    filename: str | None


async def form_file(request: Request[Any, Any, Any]) -> UploadFile:
    """The form's file; 422 when the request carries none."""
    form = await request.form()
    upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
    if upload is None:
        raise Invalid("send the file as a multipart/form-data file field named 'file'", field="file")
    return upload


def attachment_out(stored: StoredMedia) -> AttachmentOut:
    return AttachmentOut(
        id=str(stored.file_id), mime=stored.mime, kind=stored.kind, size=stored.size, filename=stored.filename
    )
