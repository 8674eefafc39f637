"""Turning stored documents into event payloads (the wire shapes of hub.domain.events)."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from hub.domain import events as ev
from hub.store.conversations import Conversation
from hub.store.messages import Message


def iso(at: datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def media_url(message: Message, index: int) -> str:
    return f"/api/messages/{message.id}/media/{index}"


def message_payload(message: Message) -> ev.MessagePayload:
    media = [
        ev.MediaPayload(
            id=str(m.file_id) if m.file_id else None,
            mime=m.mime,
            kind=m.kind,
            size=m.size,
            filename=m.filename,
            url=media_url(message, i) if m.file_id else None,
            rejected=m.rejected,
        )
        for i, m in enumerate(message.media)
    ]
    return ev.MessagePayload(
        id=str(message.id),
        conversation_id=str(message.conversation_id),
        direction="in" if message.direction == "in" else "out",
        sender=message.sender,
        recipient=message.recipient,
        text=message.text,
        media=media,
        status=str(message.status),
        status_history=[
            ev.StatusChange(status=str(h.status), at=iso(h.at), detail=h.detail)
            for h in message.status_history
        ],
        author=ev.Author(
            kind=message.author.kind,  # type: ignore[arg-type]
            id=str(message.author.id) if message.author.id else None,
            name=message.author.name,
        ),
        segments=message.segments,
        encoding=message.encoding,
        seq=message.seq,
        created_at=iso(message.created_at),
        keyword=message.keyword.text if message.keyword else None,
        campaign_id=message.campaign_id,
        campaign=ev.CampaignRef(id=message.campaign_id, name=message.campaign_name or message.campaign_id)
        if message.campaign_id
        else None,
        best_effort=bool(message.routing and message.routing.best_effort),
        withheld=[msgspec.convert(w, ev.WithheldReply) for w in message.routing.withheld]
        if message.routing
        else [],
    )


def conversation_payload(conv: Conversation) -> ev.ConversationPayload:
    last = conv.last_message
    return ev.ConversationPayload(
        id=str(conv.id),
        number_id=str(conv.number_id),
        number=conv.number,
        contact=ev.ContactPayload(id=str(conv.contact_id), phone=conv.contact_phone, name=conv.contact_name),
        status=conv.status.value,
        assignee_id=str(conv.assignee_id) if conv.assignee_id else None,
        unread=conv.unread,
        last_message=(
            ev.LastMessage(
                text=last.text,
                direction="in" if last.direction == "in" else "out",
                at=iso(last.at),
                has_media=last.has_media,
            )
            if last
            else None
        ),
        last_message_at=iso(conv.last_message_at) if conv.last_message_at else None,
        updated_at=iso(conv.updated_at),
        version=conv.version,
        handover=conv.handover,
        campaign=ev.CampaignRef(id=conv.campaign.id, name=conv.campaign.name) if conv.campaign else None,
        handover_note=conv.handover_note,
        handover_by=(
            ev.HandoverBy(
                kind="agent" if conv.handover_by.kind == "agent" else "bot", name=conv.handover_by.name
            )
            if conv.handover and conv.handover_by
            else None
        ),
        snoozed_until=iso(conv.snoozed_until) if conv.snoozed_until else None,
        waiting_since=iso(conv.waiting_since) if conv.waiting_since else None,
        labels=[str(label) for label in conv.label_ids],
    )
