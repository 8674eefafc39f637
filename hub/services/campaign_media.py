"""A campaign's MMS: the files uploaded for it, and whether its sender's gateway can carry them.

Files are uploaded before the sender is settled, so an upload is only held to what some gateway
sends (`mms_limits.widest`); the preview and the creation then hold the files to the sender's own
gateway and refuse, before anything is stored, a sender that cannot carry MMS at all (409) or
files over its limits (422). docs/campaigns.md, "MMS".
"""

from __future__ import annotations

from dataclasses import dataclass

from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain import mms_limits
from hub.domain.mms_limits import MmsLimits
from hub.domain.numbers import NumberType
from hub.services.errors import Conflict, Invalid
from hub.services.media import keep_within, uploads_within
from hub.store.messages import StoredMedia
from hub.store.numbers import Number

NAME_NO_MMS = "a sender name cannot carry MMS: send it from a number or a 2WAY pool"


def owner(account_id: PydanticObjectId) -> dict[str, str]:
    """Whose an uploaded campaign file is: the account's, for its campaigns only."""
    return {"account_id": str(account_id), "purpose": "campaign"}


@dataclass(frozen=True)
class SenderMms:
    """What a sender can carry: `limits` None when it cannot (with the `reason`)."""

    gateway: str
    limits: MmsLimits | None
    reason: str | None


async def sender_mms(
    hub: HubContext, account_id: PydanticObjectId, kind: str, number_id: str | None
) -> SenderMms:
    """The MMS limits of a sender kind ("number" with its id, "2way", "eco", "name")."""
    media = hub.settings.media

    def of(provider: str) -> MmsLimits | None:
        return mms_limits.limits_for(provider, media.max_bytes, media.max_parts)

    if kind == "name":
        return SenderMms("", None, NAME_NO_MMS)
    if kind == "number":
        number = (
            await Number.get(PydanticObjectId(number_id))
            if number_id and PydanticObjectId.is_valid(number_id)
            else None
        )
        if number is None or number.account_id != account_id:
            raise Invalid("sender.number_id names no number of this account", field="sender.number_id")
        limits = of(number.provider)
        reason = (
            None if limits else f"the number {number.e164} is on {number.provider}, which cannot send MMS"
        )
        return SenderMms(number.provider, limits, reason)
    eco = kind == "eco"
    what = "ECO+" if eco else "2WAY"
    query = {"type": NumberType.TWO_WAY.value, "account_id": None, "eco_plus": eco}
    providers = sorted({n.provider async for n in Number.find(query)})
    if not providers:
        return SenderMms("", None, f"the operator has no {what} virtual numbers to send from")
    found = [of(p) for p in providers]
    missing = [p for p, lim in zip(providers, found, strict=True) if lim is None]
    if missing:
        reason = f"the {what} pool's numbers on {', '.join(missing)} cannot send MMS"
        return SenderMms(", ".join(providers), None, reason)
    return SenderMms(", ".join(providers), mms_limits.strictest([x for x in found if x is not None]), None)


async def upload(
    hub: HubContext,
    account_id: PydanticObjectId,
    data: bytes,
    declared_type: str | None,
    filename: str | None,
) -> StoredMedia:
    """Keep a file for the account's campaigns, once some gateway could send it.

    Raises:
        Invalid: empty, too large for every gateway, or of a type none sends.
    """
    media = hub.settings.media
    limits = mms_limits.widest(media.max_bytes, media.max_parts)
    return await keep_within(
        hub.media, limits, data, declared_type, filename, owner(account_id), "the gateways send"
    )


async def attachments(
    hub: HubContext, account_id: PydanticObjectId, kind: str, number_id: str | None, media_ids: list[str]
) -> tuple[list[StoredMedia], SenderMms | None]:
    """The files a campaign attaches, once its sender can carry them all.

    Raises:
        Conflict: the sender cannot carry MMS (a sender name, a gateway without MMS).
        Invalid: an unknown file (or another account's), too many, too large, a wrong type.
    """
    if not media_ids:
        return [], None
    carrier = await sender_mms(hub, account_id, kind, number_id)
    if carrier.limits is None:
        raise Conflict(carrier.reason or mms_limits.NO_MMS, field="sender")
    found = await uploads_within(
        hub.media,
        media_ids,
        owner(account_id),
        carrier.limits,
        missing="no uploaded campaign attachment in this account:",
        gateway="this sender's gateway",
    )
    return found, carrier
