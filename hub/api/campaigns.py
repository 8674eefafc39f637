"""Campaigns: preview, create, start, pause, resume, cancel, recipients and the report
(docs/campaigns.md). Reading: any principal of the account; writing: its admins."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from hub.api.audited import audited
from hub.api.deps import provide_admin, provide_hub, provide_principal
from hub.api.openapi import documented_body
from hub.api.uploads import AttachmentOut, UploadForm, attachment_out, form_file
from hub.context import HubContext
from hub.domain import mms_limits
from hub.realtime.payloads import iso
from hub.services import campaign_media
from hub.services import campaigns as svc
from hub.services.auth import Principal
from hub.services.campaign_media import SenderMms
from hub.services.errors import Invalid
from hub.store.campaigns import TARGET_STATUSES, Campaign, CampaignTarget
from hub.store.messages import StoredMedia


class SenderOut(msgspec.Struct):
    kind: Literal["number", "2way", "eco", "name"]
    label: str
    number_id: str | None = None
    name: str | None = None


class WindowOut(msgspec.Struct):
    start: str = msgspec.field(name="from")
    end: str = msgspec.field(name="to")
    tz: str = "Europe/Warsaw"


class ScheduleOut(msgspec.Struct):
    start_at: str | None
    window: WindowOut | None
    rate_per_minute: int | None


class CountsOut(msgspec.Struct):
    recipients: int
    queued: int
    sent: int
    delivered: int
    failed: int
    skipped: int
    replied: int
    opted_out: int


class ExcludedOut(msgspec.Struct):
    opted_out: int = 0
    blocked: int = 0
    duplicates: int = 0
    invalid: int = 0


class RatesOut(msgspec.Struct):
    delivery: float | None
    """Delivered of those the gateway took or failed (sent + delivered + failed)."""
    reply: float | None
    """Replied of those sent (sent + delivered)."""


class MediaOut(msgspec.Struct):
    id: str
    mime: str
    kind: str
    size: int
    filename: str | None


class GatewayMmsOut(msgspec.Struct):
    gateway: str
    can_send: bool
    max_bytes: int
    max_files: int


class SenderMmsOut(msgspec.Struct):
    """What a campaign's sender can carry as MMS (docs/campaigns.md, "MMS")."""

    can_send: bool
    reason: str | None
    gateway: str
    """The sender's gateway (a pool's gateways, comma-separated)."""
    max_bytes: int
    max_files: int
    types: list[str]
    gateways: list[GatewayMmsOut]
    """Every gateway's limits, for the page to say which carry what."""


class MmsPreviewOut(msgspec.Struct):
    files: int
    bytes: int
    gateway: str
    max_bytes: int
    max_files: int
    units_per_message: int
    """What one recipient's MMS costs in units (`HUB_USAGE_MMS_UNITS`), whatever its text's length."""
    summary: str


class CampaignOut(msgspec.Struct):
    id: str
    name: str
    status: Literal["draft", "scheduled", "running", "paused", "waiting", "done", "cancelled"]
    sender: SenderOut
    replies: Literal["guaranteed", "best_effort", "none", "number"]
    text: str
    schedule: ScheduleOut
    created_at: str
    started_at: str | None
    finished_at: str | None
    next_send_at: str | None
    counts: CountsOut
    excluded: ExcludedOut
    segments_total: int
    units_total: int | None
    rates: RatesOut
    paused_reason: str | None = None
    """Why the hub paused it by itself (the account's usage limits, a suspension)."""
    media: list[MediaOut] = []
    """The files every recipient's MMS carries (none: an SMS campaign)."""


class InvalidRowOut(msgspec.Struct):
    line: int
    value: str
    reason: str


class SampleOut(msgspec.Struct):
    phone: str
    text: str
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]


class PreviewOut(msgspec.Struct):
    recipients: int
    excluded: ExcludedOut
    invalid_rows: list[InvalidRowOut]
    segments_total: int
    units_total: int | None
    encodings: dict[str, int]
    samples: list[SampleOut]
    warnings: list[str]
    mms: MmsPreviewOut | None = None
    """Set when the campaign carries files: what goes, through which gateway, at what cost."""


class RecipientOut(msgspec.Struct):
    phone: str
    name: str | None
    status: Literal["queued", "sent", "delivered", "failed", "skipped"]
    reason: str | None
    sender: str | None
    message_id: str | None
    conversation_id: str | None
    sent_at: str | None
    delivered_at: str | None
    replied_at: str | None
    reply_text: str | None
    opted_out: bool


class RecipientPage(msgspec.Struct):
    items: list[RecipientOut]
    next: str | None


def _iso(at: datetime | None) -> str | None:
    return iso(at) if at is not None else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def media_out(m: StoredMedia) -> MediaOut:
    return MediaOut(id=str(m.file_id), mime=m.mime, kind=m.kind, size=m.size, filename=m.filename)


def sender_mms_out(hub: HubContext, carrier: SenderMms) -> SenderMmsOut:
    media = hub.settings.media
    gateways = []
    for gateway in ("simulator", "twilio", "serwersms", "kannel", "smpp"):
        limits = mms_limits.limits_for(gateway, media.max_bytes, media.max_parts)
        gateways.append(
            GatewayMmsOut(
                gateway,
                limits is not None,
                limits.max_bytes if limits else 0,
                limits.max_files if limits else 0,
            )
        )
    lim = carrier.limits
    return SenderMmsOut(
        can_send=lim is not None,
        reason=carrier.reason,
        gateway=carrier.gateway,
        max_bytes=lim.max_bytes if lim else 0,
        max_files=lim.max_files if lim else 0,
        types=sorted(lim.types) if lim else [],
        gateways=gateways,
    )


def mms_preview_out(p: svc.Preview) -> MmsPreviewOut | None:
    carrier = p.carrier
    if not p.media or carrier is None or carrier.limits is None:
        return None
    size = sum(m.size for m in p.media)
    units = p.units_per_message or 0
    summary = (
        f"MMS through {carrier.gateway}: {len(p.media)} file(s), {mms_limits.format_size(size)} of "
        f"{mms_limits.format_size(carrier.limits.max_bytes)}; {units} unit(s) per recipient. "
        "Sender names and numbers on kannel or smpp cannot carry MMS."
    )
    return MmsPreviewOut(
        files=len(p.media),
        bytes=size,
        gateway=carrier.gateway,
        max_bytes=carrier.limits.max_bytes,
        max_files=carrier.limits.max_files,
        units_per_message=units,
        summary=summary,
    )


def campaign_out(c: Campaign) -> CampaignOut:
    counts = CountsOut(**{f: int(c.counts.get(f, 0)) for f in CountsOut.__struct_fields__})
    window = c.schedule.window
    return CampaignOut(
        id=str(c.id),
        name=c.name,
        status=c.status,  # type: ignore[arg-type]
        sender=SenderOut(
            kind=c.sender.kind,  # type: ignore[arg-type]
            label=c.sender.label,
            number_id=c.sender.number_id,
            name=c.sender.name,
        ),
        replies=c.replies,  # type: ignore[arg-type]
        text=c.text,
        schedule=ScheduleOut(
            start_at=_iso(c.schedule.start_at),
            window=WindowOut(window.start, window.end, window.tz) if window else None,
            rate_per_minute=c.schedule.rate_per_minute,
        ),
        created_at=iso(c.created_at),
        started_at=_iso(c.started_at),
        finished_at=_iso(c.finished_at),
        next_send_at=_iso(c.next_send_at),
        counts=counts,
        excluded=ExcludedOut(
            **{k: int(v) for k, v in c.excluded.items() if k in ExcludedOut.__struct_fields__}
        ),
        segments_total=c.segments_total,
        units_total=c.units_total,
        rates=RatesOut(
            delivery=_ratio(counts.delivered, counts.sent + counts.delivered + counts.failed),
            reply=_ratio(counts.replied, counts.sent + counts.delivered),
        ),
        paused_reason=c.paused_reason,
        media=[media_out(m) for m in c.media],
    )


def recipient_out(t: CampaignTarget) -> RecipientOut:
    return RecipientOut(
        phone=t.phone,
        name=t.name,
        status=t.status,  # type: ignore[arg-type]
        reason=t.reason,
        sender=t.sender,
        message_id=str(t.message_id) if t.message_id and t.stage == "handed" else None,
        conversation_id=str(t.conversation_id) if t.conversation_id else None,
        sent_at=_iso(t.sent_at),
        delivered_at=_iso(t.delivered_at),
        replied_at=_iso(t.replied_at),
        reply_text=t.reply_text,
        opted_out=t.opted_out,
    )


REPORT_COLUMNS = (
    "phone",
    "name",
    "status",
    "reason",
    "sender",
    "sent_at",
    "delivered_at",
    "replied_at",
    "reply_text",
    "opted_out",
)


async def report_rows(campaign: Campaign) -> AsyncIterator[str]:
    """The report as CSV text, a chunk of rows at a time (a BOM first, for Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    async for t in svc.all_recipients(campaign):
        r = recipient_out(t)
        writer.writerow(
            [
                r.phone,
                r.name or "",
                r.status,
                r.reason or "",
                r.sender or "",
                r.sent_at or "",
                r.delivered_at or "",
                r.replied_at or "",
                r.reply_text or "",
                "yes" if r.opted_out else "no",
            ]
        )
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


class CampaignController(Controller):
    path = "/api/campaigns"
    dependencies = {"hub": Provide(provide_hub, sync_to_thread=False)}
    tags = ["campaigns"]

    @post("/preview", status_code=200, dependencies={"principal": Provide(provide_admin)})
    async def preview(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[svc.CampaignIn],
    ) -> PreviewOut:
        """What a campaign would send: recipients, exclusions, segments and units, samples; with
        `media`, the MMS and its gateway (409 when the sender cannot carry MMS)."""
        p = await svc.preview(hub, principal.account_id, data)
        return PreviewOut(
            recipients=p.recipients,
            excluded=ExcludedOut(**p.excluded),
            invalid_rows=[InvalidRowOut(r.line, r.value, r.reason) for r in p.invalid_rows],
            segments_total=p.segments_total,
            units_total=p.units_total,
            encodings={"GSM-7": p.encodings.get("GSM-7", 0), "UCS-2": p.encodings.get("UCS-2", 0)},
            samples=[msgspec.convert(s, SampleOut) for s in p.samples],
            warnings=p.warnings,
            mms=mms_preview_out(p),
        )

    @get("/mms", dependencies={"principal": Provide(provide_admin)})
    async def mms(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        kind: Annotated[Literal["number", "2way", "eco", "name"], QueryParameter()],
        number_id: Annotated[str | None, QueryParameter()] = None,
    ) -> SenderMmsOut:
        """Whether a sender can carry MMS, its size and type limits, and every gateway's."""
        carrier = await campaign_media.sender_mms(hub, principal.account_id, kind, number_id)
        return sender_mms_out(hub, carrier)

    @post(
        "/media",
        status_code=201,
        dependencies={"principal": Provide(provide_admin)},
        operation_class=documented_body("multipart/form-data", UploadForm),
    )
    async def upload(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        request: Request[Any, Any, Any],
    ) -> AttachmentOut:
        """Keep an image, audio or video file (multipart form, one file) for the account's
        campaigns; name its `id` in a campaign's `media`. 422 when empty, larger than any gateway
        sends, or of a type none sends."""
        upload = await form_file(request)
        content = await upload.read()
        stored = await campaign_media.upload(
            hub, principal.account_id, content, upload.content_type, upload.filename
        )
        return attachment_out(stored)

    @post("", status_code=201, dependencies={"principal": Provide(provide_admin)})
    @audited("campaign.create", "campaign")
    async def create(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        data: JSONBody[svc.CampaignIn],
    ) -> CampaignOut:
        """Build the audience and store the campaign as a draft."""
        return campaign_out(await svc.create(hub, principal.account_id, data))

    @get("", dependencies={"principal": Provide(provide_principal)})
    async def list_campaigns(self, principal: NamedDependency[Principal]) -> list[CampaignOut]:
        """The account's campaigns, newest first."""
        return [campaign_out(c) for c in await svc.list_campaigns(principal.account_id)]

    @get("/{campaign_id:str}", dependencies={"principal": Provide(provide_principal)})
    async def get_campaign(
        self, principal: NamedDependency[Principal], campaign_id: FromPath[str]
    ) -> CampaignOut:
        return campaign_out(await svc.get(principal.account_id, campaign_id))

    @post("/{campaign_id:str}/start", status_code=200, dependencies={"principal": Provide(provide_admin)})
    @audited("campaign.start", "campaign", "campaign_id")
    async def start(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        campaign_id: FromPath[str],
    ) -> CampaignOut:
        campaign = await svc.get(principal.account_id, campaign_id)
        return campaign_out(await svc.start(hub, campaign, datetime.now(UTC)))

    @post("/{campaign_id:str}/pause", status_code=200, dependencies={"principal": Provide(provide_admin)})
    @audited("campaign.pause", "campaign", "campaign_id")
    async def pause(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        campaign_id: FromPath[str],
    ) -> CampaignOut:
        campaign = await svc.get(principal.account_id, campaign_id)
        return campaign_out(await svc.pause(hub, campaign))

    @post("/{campaign_id:str}/resume", status_code=200, dependencies={"principal": Provide(provide_admin)})
    @audited("campaign.resume", "campaign", "campaign_id")
    async def resume(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        campaign_id: FromPath[str],
    ) -> CampaignOut:
        campaign = await svc.get(principal.account_id, campaign_id)
        return campaign_out(await svc.resume(hub, campaign, datetime.now(UTC)))

    @post("/{campaign_id:str}/cancel", status_code=200, dependencies={"principal": Provide(provide_admin)})
    @audited("campaign.cancel", "campaign", "campaign_id")
    async def cancel(
        self,
        hub: NamedDependency[HubContext],
        principal: NamedDependency[Principal],
        campaign_id: FromPath[str],
    ) -> CampaignOut:
        campaign = await svc.get(principal.account_id, campaign_id)
        return campaign_out(await svc.cancel(hub, campaign, datetime.now(UTC)))

    @get("/{campaign_id:str}/recipients", dependencies={"principal": Provide(provide_principal)})
    async def recipients(
        self,
        principal: NamedDependency[Principal],
        campaign_id: FromPath[str],
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        after: Annotated[str | None, QueryParameter()] = None,
    ) -> RecipientPage:
        """Recipients in build order, a page at a time; `next` is the `after` of the next page."""
        status = status or None  # `status=` (empty): every status
        if status is not None and status not in TARGET_STATUSES:
            raise Invalid(f"status must be one of {', '.join(TARGET_STATUSES)}", field="status")
        campaign = await svc.get(principal.account_id, campaign_id)
        rows, cursor = await svc.recipients_page(campaign, status, limit, after)
        return RecipientPage([recipient_out(t) for t in rows], cursor)

    @get(
        "/{campaign_id:str}/report.csv",
        media_type="text/csv",
        dependencies={"principal": Provide(provide_principal)},
    )
    async def report(self, principal: NamedDependency[Principal], campaign_id: FromPath[str]) -> Stream:
        """One row per recipient: status, reason, sender, times, reply and opt-out."""
        campaign = await svc.get(principal.account_id, campaign_id)
        return Stream(
            report_rows(campaign),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="campaign-{campaign.id}.csv"'},
        )
