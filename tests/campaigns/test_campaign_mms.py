"""Campaign MMS, batches bounded by time, and builds that died part-way: the services against the
real database, with the batch jobs run by the test at the time it names."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta

import msgspec
import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.services import campaign_media, usage
from hub.services import campaign_sending as sending
from hub.services import campaigns as svc
from hub.services.errors import Conflict, Invalid, NotFound
from hub.settings import CampaignSettings, Settings
from hub.store.audience import Suppression, SuppressionKind
from hub.store.campaigns import Campaign, CampaignTarget, targets
from hub.store.messages import Message
from hub.store.usage import UsageEntry
from tests.campaigns.conftest import add_number
from tests.campaigns.test_campaign_service import NOON, _campaign, _reload, _setup, _targets
from tests.conftest import make_tenant
from tests.e2e.test_webhooks import tiny_png
from workers.run import open_hub

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

LONG_POLISH = "Wiosenna wyprzedaż w naszym sklepie ogrodniczym — zapraszamy {name|Kliencie}! " * 2
"""Two UCS-2 segments as a text; as an MMS it is one message."""


async def _upload(hub: HubContext, account: PydanticObjectId, data: bytes | None = None) -> str:
    stored = await campaign_media.upload(hub, account, data or tiny_png(), "image/png", "kwiat.png")
    return str(stored.file_id)


def _mms(base: svc.CampaignIn, media: list[str], sender: svc.SenderIn | None = None) -> svc.CampaignIn:
    return msgspec.structs.replace(base, media=media, sender=sender or base.sender)


async def test_an_mms_campaign_sends_the_file_to_each_recipient(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    media_id = await _upload(quiet_hub, account)
    data = msgspec.structs.replace(_mms(_campaign(number_id, group_id), [media_id]), text=LONG_POLISH)
    await usage.set_limits(account, {"balance_units": 1})
    preview = await svc.preview(quiet_hub, account, data)
    assert preview.recipients == 3 and preview.segments_total > 3  # as texts: two or three segments each
    # Metered as usage meters an MMS: HUB_USAGE_MMS_UNITS a recipient, not the text's segments.
    assert preview.units_per_message == 1 and preview.units_total == 3
    assert preview.carrier is not None and preview.carrier.gateway == "simulator"

    campaign = await svc.create(quiet_hub, account, data)
    assert [m.mime for m in campaign.media] == ["image/png"] and campaign.units_total == 3
    await svc.start(quiet_hub, campaign, NOON)
    # Opted out since the build: skipped at send time, as for a text.
    await Suppression(phone="+48601222000", account_id=account, kind=SuppressionKind.OPT_OUT).insert()
    result = await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)
    # A balance of one unit: one MMS, then the campaign pauses for the limit.
    assert "balance" in str(result["paused"])
    sent = await Message.find({"campaign_id": str(campaign.id)}).to_list()
    assert len(sent) == 1 and [str(m.file_id) for m in sent[0].media] == [media_id]
    charge = await UsageEntry.get(f"msg:{sent[0].id}")
    assert charge is not None and charge.channel == "mms" and charge.units == 1

    await usage.top_up(account, 10)
    resumed = await svc.resume(quiet_hub, await _reload(campaign), NOON)
    await sending.run_batch(quiet_hub, str(campaign.id), resumed.batch, NOON)
    sent = await Message.find({"campaign_id": str(campaign.id)}).to_list()
    assert sorted(m.recipient for m in sent) == ["+48601111000", "+48601111001"]
    assert all(m.media and m.media[0].file_id == sent[0].media[0].file_id for m in sent)
    rows = await _targets(campaign)
    assert rows["+48601222000"].status == "skipped"


async def test_an_mms_campaign_waits_for_its_window(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    window = svc.WindowIn("08:00", "21:00", "Europe/Warsaw")
    data = _mms(_campaign(number_id, group_id, window=window), [await _upload(quiet_hub, account)])
    campaign = await svc.create(quiet_hub, account, data)
    night = NOON + timedelta(hours=10, minutes=30)  # 22:30 in Warsaw
    await svc.start(quiet_hub, campaign, night)
    assert "waiting" in await sending.run_batch(quiet_hub, str(campaign.id), 0, night)
    assert await Message.find({"campaign_id": str(campaign.id)}).count() == 0


async def test_a_sender_that_cannot_carry_mms_is_refused_and_nothing_is_stored(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    media_id = await _upload(quiet_hub, account)
    base = _campaign(number_id, group_id)
    kannel = await add_number("+48500100209", NumberType.NDI, account, provider="kannel")
    await add_number("+48799100300", NumberType.TWO_WAY, eco_plus=True, provider="smpp")
    await add_number("+48799100200", NumberType.TWO_WAY)
    refused = {
        "name": _mms(base, [media_id], svc.SenderName("SKLEP")),
        "kannel": _mms(base, [media_id], svc.SenderNumber(str(kannel.id))),
        "eco": _mms(base, [media_id], svc.SenderEco()),
    }
    for what, data in refused.items():
        with pytest.raises(Conflict) as caught:
            await svc.preview(quiet_hub, account, data)
        assert caught.value.extra["field"] == "sender", what
        with pytest.raises(Conflict):
            await svc.create(quiet_hub, account, data)
    assert "sender name cannot carry MMS" in str(
        (await campaign_media.sender_mms(quiet_hub, account, "name", None)).reason
    )
    eco = await campaign_media.sender_mms(quiet_hub, account, "eco", None)
    assert eco.limits is None and "smpp" in str(eco.reason)
    # The 2WAY pool is on the simulator: it carries the file.
    two_way = await svc.preview(quiet_hub, account, _mms(base, [media_id], svc.SenderTwoWay()))
    assert two_way.carrier is not None and two_way.carrier.limits is not None

    other = await make_tenant("beta", "+48500900900")
    foreign = await _upload(quiet_hub, PydanticObjectId(other.account_id))
    for media in ([foreign], ["nope"], [media_id, media_id]):
        with pytest.raises(Invalid):
            await svc.create(quiet_hub, account, _mms(base, media))
    assert await Campaign.count() == 0 and await CampaignTarget.count() == 0


async def test_files_over_the_senders_gateway_limits_are_refused(quiet_hub: HubContext) -> None:
    account, _, group_id = await _setup()
    serwersms = await add_number("+48500100208", NumberType.NDI, account, provider="serwersms")
    big = tiny_png() + b"\x00" * (400 * 1024)  # a PNG with trailing bytes: 400 KB
    media_id = await _upload(quiet_hub, account, big)
    data = _mms(_campaign(str(serwersms.id), group_id), [media_id])
    with pytest.raises(Invalid) as caught:
        await svc.preview(quiet_hub, account, data)
    assert "300 KB" in caught.value.message
    with pytest.raises(Invalid):
        await campaign_media.upload(quiet_hub, account, b"<html>hi</html>", "image/png", "x.png")
    assert await Campaign.count() == 0


@pytest.fixture
async def hurried_hub(settings: Settings) -> AsyncIterator[HubContext]:
    """A hub whose batch jobs may send for no time at all: each hands on after one recipient."""
    hurried = dataclasses.replace(settings, campaign=CampaignSettings(batch_budget_s=0.0))
    async with open_hub(hurried, start_local_worker=False) as opened:
        try:
            yield opened
        finally:
            await opened.client.drop_database(settings.mongo.database)


async def test_a_batch_out_of_time_hands_the_rest_to_the_next_job(hurried_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    campaign = await svc.create(hurried_hub, account, _campaign(number_id, group_id))
    await svc.start(hurried_hub, campaign, NOON)
    first = await sending.run_batch(hurried_hub, str(campaign.id), 0, NOON)
    assert first == {"queued": 1, "batch": 0, "continued": 2}
    handed_on = await _reload(campaign)
    # The next job goes on from the same place: the cursor stays until its range is all handed.
    assert handed_on.batch == 1 and handed_on.cursor == 0
    assert await Message.find({"campaign_id": str(campaign.id)}).count() == 1
    # The old job run again (its timeout passed after all) is stale and sends nothing.
    assert await sending.run_batch(hurried_hub, str(campaign.id), 0, NOON) == {"skipped": "stale batch"}
    assert await sending.run_batch(hurried_hub, str(campaign.id), 1, NOON) == {
        "queued": 1,
        "batch": 1,
        "continued": 1,
    }
    assert await sending.run_batch(hurried_hub, str(campaign.id), 2, NOON) == {"queued": 1, "batch": 2}
    assert await sending.run_batch(hurried_hub, str(campaign.id), 3, NOON) == {"done": True}
    messages = await Message.find({"campaign_id": str(campaign.id)}).to_list()
    assert sorted(m.recipient for m in messages) == ["+48601111000", "+48601111001", "+48601222000"]


async def test_the_sweep_deletes_a_build_that_died_part_way(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    done = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    assert done.status == "draft" and done.building_seen_at is None
    # Two builds whose process died after some targets: one long ago, one that may still be going.
    dead, young = PydanticObjectId(), PydanticObjectId()
    for cid, seen in ((dead, NOON - svc.BUILD_STALE - timedelta(seconds=1)), (young, NOON)):
        await Campaign(
            id=cid,
            account_id=account,
            name="Przerwana",
            text="Hej",
            sender=done.sender,
            replies="number",
            schedule=done.schedule,
            status="building",
            building_seen_at=seen,
        ).insert()
        await targets().insert_many(
            [
                {"campaign_id": cid, "account_id": account, "n": n, "phone": f"+4860900000{n}"}
                for n in range(3)
            ]
        )
    # A build is never seen by the account, nor started.
    assert [c.id for c in await svc.list_campaigns(account)] == [done.id]
    with pytest.raises(NotFound):
        await svc.get(account, str(dead))
    assert await sending.run_batch(quiet_hub, str(dead), 0, NOON) == {"skipped": "campaign is building"}

    await sending.sweep(quiet_hub, NOON)
    assert await Campaign.get(dead) is None
    assert await CampaignTarget.find({"campaign_id": dead}).count() == 0
    assert await CampaignTarget.find({"campaign_id": young}).count() == 3
    assert await CampaignTarget.find({"campaign_id": done.id}).count() == 3


async def test_a_build_that_fails_part_way_leaves_nothing(
    quiet_hub: HubContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, number_id, group_id = await _setup()
    monkeypatch.setattr(svc, "INSERT_CHUNK", 1)
    calls = 0
    real = svc.campaigns

    def failing() -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        return real()

    monkeypatch.setattr(svc, "campaigns", failing)
    with pytest.raises(RuntimeError):
        await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    assert await Campaign.count() == 0 and await CampaignTarget.count() == 0
