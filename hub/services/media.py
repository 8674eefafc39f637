"""MMS attachments: fetched or taken inline, sniffed, size-limited, stored in GridFS."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from beanie import PydanticObjectId
from bson import ObjectId
from gridfs import AsyncGridFSBucket
from pymongo.asynchronous.database import AsyncDatabase

from hub.domain.media_types import sniff_media
from hub.domain.messages import IncomingMedia
from hub.domain.mms_limits import MmsLimits, format_size, refusal
from hub.services.errors import Invalid
from hub.services.media_fetch import Gone, MediaFetcher, MediaUnavailable, TooLarge
from hub.settings import MediaSettings
from hub.store.messages import Message, StoredMedia

log = logging.getLogger(__name__)

__all__ = ["MediaFile", "MediaStore", "MediaUnavailable"]


@dataclass(frozen=True)
class MediaFile:
    data: bytes
    mime: str
    filename: str | None


class MediaStore:
    def __init__(
        self, db: AsyncDatabase[dict[str, Any]], http: httpx.AsyncClient, settings: MediaSettings
    ) -> None:
        self._bucket = AsyncGridFSBucket(db, bucket_name="media")
        self._fetcher = MediaFetcher(http, settings)
        self._settings = settings

    async def ingest(
        self, items: tuple[IncomingMedia, ...], auth: tuple[str, str] | None = None
    ) -> list[StoredMedia]:
        """Fetch, check and store each attachment.

        Attachments that are too large, of a format not accepted, or gone at the source are kept
        as a described rejection, so the agent sees that something was sent.

        Raises:
            MediaUnavailable: a source answered 5xx or timed out; the whole webhook should be retried.
        """
        stored: list[StoredMedia] = []
        try:
            for item in items[: self._settings.max_parts]:
                stored.append(await self._ingest_one(item, auth))
        except BaseException:
            # Nothing half-stored: the retried webhook uploads them again.
            await self.delete(stored)
            raise
        for item in items[self._settings.max_parts :]:
            stored.append(
                StoredMedia(source_url=item.url, rejected=f"more than {self._settings.max_parts} attachments")
            )
        return stored

    async def _ingest_one(self, item: IncomingMedia, auth: tuple[str, str] | None) -> StoredMedia:
        limit = self._settings.max_bytes
        data = item.data
        if data is None and item.url:
            try:
                data = await self._fetcher.fetch(item.url, auth)
            except TooLarge:
                return StoredMedia(source_url=item.url, rejected=f"larger than {limit} bytes")
            except Gone as exc:
                return StoredMedia(source_url=item.url, rejected=str(exc))
        if data is None:
            return StoredMedia(source_url=item.url, rejected="no content")
        if len(data) > limit:
            return StoredMedia(source_url=item.url, size=len(data), rejected=f"larger than {limit} bytes")
        sniff = sniff_media(data, item.content_type, item.filename)
        if not sniff.accepted:
            return StoredMedia(
                source_url=item.url,
                size=len(data),
                filename=item.filename,
                rejected=sniff.reason or "not accepted",
            )
        filename = item.filename or f"attachment.{sniff.extension}"
        file_id = await self._bucket.upload_from_stream(
            filename, data, metadata={"contentType": sniff.mime, "kind": sniff.kind}
        )
        return StoredMedia(
            file_id=PydanticObjectId(file_id),
            mime=sniff.mime,
            kind=sniff.kind,
            size=len(data),
            filename=filename,
            source_url=item.url,
        )

    async def upload(
        self, data: bytes, declared_type: str | None, filename: str | None, owner: Mapping[str, str]
    ) -> StoredMedia:
        """Keep a file an agent attaches to a reply, sniffed like a received one.

        `owner` (the account and conversation) is stored with it: a reply may attach only the
        files uploaded for its own conversation.

        Raises:
            Invalid: empty, larger than the hub keeps, or of a format it does not accept.
        """
        limit = self._settings.max_bytes
        if not data:
            raise Invalid("the file is empty", field="file")
        if len(data) > limit:
            raise Invalid(
                f"the file takes {format_size(len(data))}; the hub keeps at most {format_size(limit)}",
                field="file",
            )
        sniff = sniff_media(data, declared_type, filename)
        if not sniff.accepted:
            raise Invalid(f"the file is not accepted: {sniff.reason}", field="file")
        name = _clean_name(filename) or f"attachment.{sniff.extension}"
        file_id = await self._bucket.upload_from_stream(
            name, data, metadata={"contentType": sniff.mime, "kind": sniff.kind, "size": len(data), **owner}
        )
        return StoredMedia(
            file_id=PydanticObjectId(file_id), mime=sniff.mime, kind=sniff.kind, size=len(data), filename=name
        )

    async def uploaded(self, file_id: str, owner: Mapping[str, str]) -> StoredMedia | None:
        """A file uploaded for `owner` (see `upload`), or None when there is no such file of theirs."""
        if not PydanticObjectId.is_valid(file_id):
            return None
        query: dict[str, Any] = {"_id": ObjectId(file_id)}
        query.update({f"metadata.{k}": v for k, v in owner.items()})
        async for grid_out in self._bucket.find(query, limit=1):
            meta = grid_out.metadata or {}
            return StoredMedia(
                file_id=PydanticObjectId(file_id),
                mime=str(meta.get("contentType", "application/octet-stream")),
                kind=str(meta.get("kind", "application")),
                size=int(grid_out.length),
                filename=grid_out.filename,
            )
        return None

    async def open(self, file_id: PydanticObjectId) -> MediaFile:
        stream = await self._bucket.open_download_stream(ObjectId(file_id))
        data = await stream.read()
        meta = stream.metadata or {}
        return MediaFile(
            data=data, mime=str(meta.get("contentType", "application/octet-stream")), filename=stream.filename
        )

    async def delete(self, media: list[StoredMedia]) -> None:
        for item in media:
            if item.file_id is not None:
                try:
                    await self._bucket.delete(ObjectId(item.file_id))
                except Exception:
                    log.warning("could not delete orphaned media %s", item.file_id, exc_info=True)


async def keep_within(
    store: MediaStore,
    limits: MmsLimits,
    data: bytes,
    declared_type: str | None,
    filename: str | None,
    owner: Mapping[str, str],
    who: str = "this number's gateway sends",
) -> StoredMedia:
    """Keep a file for an outbound MMS once it is within `limits` (its type read from its bytes);
    nothing is kept otherwise.

    Raises:
        Invalid: empty, too large, or of a type the limits leave out; `who` says whose limits.
    """
    if len(data) > limits.max_bytes:
        raise Invalid(
            f"the file takes {format_size(len(data))}; {who} at most "
            f"{format_size(limits.max_bytes)} in one MMS",
            field="file",
        )
    stored = await store.upload(data, declared_type, filename, owner)
    reason = refusal(limits, [(stored.mime, stored.size)])
    if reason is not None:
        await store.delete([stored])
        raise Invalid(reason, field="file")
    return stored


async def uploads_within(
    store: MediaStore,
    media_ids: list[str],
    owner: Mapping[str, str],
    limits: MmsLimits,
    *,
    missing: str,
    gateway: str = "this number's gateway",
) -> list[StoredMedia]:
    """The uploaded files `media_ids` names, in order, once each is the owner's and all of them fit
    `limits` together; the one check of a reply's and a campaign's attachments.

    Raises:
        Invalid: a file named twice, one not uploaded by the owner (`missing`, with its id), or
            files over the limits (the refusal names the sender's `gateway`).
    """
    if len(set(media_ids)) != len(media_ids):
        raise Invalid("the same attachment is named twice", field="media")
    found: list[StoredMedia] = []
    for media_id in media_ids:
        item = await store.uploaded(media_id, owner)
        if item is None:
            raise Invalid(f"{missing} {media_id[:40]}", field="media")
        found.append(item)
    reason = refusal(limits, [(m.mime, m.size) for m in found])
    if reason is not None:
        raise Invalid(reason.replace("this number's gateway", gateway), field="media")
    return found


def _clean_name(filename: str | None) -> str | None:
    """A file name without directories or control characters, at most 100 characters."""
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-100:] or None


async def message_attachments(store: MediaStore, message_id: str) -> list[MediaFile]:
    """The stored attachments of a message (a gateway that takes files, not URLs, sends these)."""
    if not PydanticObjectId.is_valid(message_id):
        return []
    message = await Message.get(PydanticObjectId(message_id))
    if message is None:
        return []
    return [await store.open(m.file_id) for m in message.media if m.file_id is not None]
