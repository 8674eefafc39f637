"""Campaign services against the real database, with the batch jobs run by the test at the time it
names (no worker: nothing runs behind the test's back, and no test waits for the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from beanie import PydanticObjectId

from hub.context import HubContext
from hub.domain.numbers import NumberType
from hub.services import campaign_sending as sending
from hub.services import campaigns as svc
from hub.services import usage
from hub.services.errors import Conflict, Invalid
from hub.store.audience import Suppression, SuppressionKind
from hub.store.campaigns import Campaign, CampaignTarget, recount
from hub.store.conversations import Contact
from hub.store.keywords import ContactGroup
from hub.store.messages import Message
from tests.campaigns.conftest import add_number
from tests.conftest import make_tenant

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(60)]

NUMBER = "+48500100200"
NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 12:00 in Warsaw


async def _setup() -> tuple[PydanticObjectId, str, PydanticObjectId]:
    tenant = await make_tenant("alpha", NUMBER)
    account = PydanticObjectId(tenant.account_id)
    number = await add_number("+48500100201", NumberType.NDI, account)
    group = ContactGroup(account_id=account, name="Ogrodnicy")
    await group.insert()
    assert group.id is not None
    for i, name in enumerate(["Ola", None, "Opted", "Blocked"]):
        await Contact(
            account_id=account,
            phone=f"+4860111100{i}",
            name=name,
            group_ids=[group.id],
            fields={"Miasto": "Kraków"},
        ).insert()
    await Suppression(
        phone="+48601111002", number="+48500100201", account_id=account, kind=SuppressionKind.OPT_OUT
    ).insert()
    await Suppression(phone="+48601111003", account_id=account, kind=SuppressionKind.BLOCK).insert()
    return account, str(number.id), group.id


def _campaign(number_id: str, group_id: PydanticObjectId, **schedule: object) -> svc.CampaignIn:
    csv_text = (
        "\ufefftelefon;imię;kod\r\n601 111 000;Olka;A1\r\n+48 601 222 000;Jan;B2\r\n"
        "xyz;Zły;C3\r\n601222000;Jan;D4\r\n"
    )
    return svc.CampaignIn(
        name="Wiosna",
        text="Dzień dobry {name|Kliencie} z {miasto|Polski}, kod {kod|brak}",
        sender=svc.SenderNumber(number_id=number_id),
        audience=svc.AudienceIn(group_ids=[str(group_id)], csv=csv_text),
        schedule=svc.ScheduleIn(**schedule),  # type: ignore[arg-type]
    )


async def _targets(campaign: Campaign) -> dict[str, CampaignTarget]:
    return {t.phone: t for t in await CampaignTarget.find({"campaign_id": campaign.id}).to_list()}


async def _reload(campaign: Campaign) -> Campaign:
    assert campaign.id is not None
    fresh = await Campaign.get(campaign.id)
    assert fresh is not None
    return fresh


async def test_audience_from_a_group_and_a_csv(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    preview = await svc.preview(quiet_hub, account, _campaign(number_id, group_id))
    # Group: Ola, an unnamed one, one opted out, one blocked; CSV: Ola again, Jan, a bad row, Jan again.
    assert preview.recipients == 3
    assert preview.excluded == {"opted_out": 1, "blocked": 1, "duplicates": 2, "invalid": 1}
    assert [(r.line, r.value) for r in preview.invalid_rows] == [(4, "xyz")]
    texts = {s["phone"]: s["text"] for s in preview.samples}
    assert texts["+48601111000"] == "Dzień dobry Ola z Kraków, kod brak"
    assert texts["+48601111001"] == "Dzień dobry Kliencie z Kraków, kod brak"
    assert texts["+48601222000"] == "Dzień dobry Jan z Polski, kod B2"
    assert preview.encodings["UCS-2"] == 3 and preview.units_total is None
    campaign = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    assert campaign.status == "draft" and campaign.counts["recipients"] == campaign.counts["queued"] == 3
    assert set(await _targets(campaign)) == {"+48601111000", "+48601111001", "+48601222000"}


async def test_bad_input_stores_nothing(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    good = _campaign(number_id, group_id)
    bad = [
        svc.CampaignIn(name="x", text="  ", sender=good.sender, audience=good.audience),
        svc.CampaignIn(name="x", text="Hej {name", sender=good.sender, audience=good.audience),
        svc.CampaignIn(name="", text="Hej", sender=good.sender, audience=good.audience),
        svc.CampaignIn(name="x", text="Hej", sender=svc.SenderNumber("nope"), audience=good.audience),
        svc.CampaignIn(name="x", text="Hej", sender=svc.SenderName("Sklep!"), audience=good.audience),
        svc.CampaignIn(name="x", text="Hej", sender=svc.SenderTwoWay(), audience=good.audience),
        svc.CampaignIn(
            name="x", text="Hej", sender=good.sender, audience=svc.AudienceIn(group_ids=["0" * 24])
        ),
        svc.CampaignIn(name="x", text="Hej", sender=good.sender, audience=svc.AudienceIn(csv="abc\n")),
        svc.CampaignIn(
            name="x",
            text="Hej",
            sender=good.sender,
            audience=good.audience,
            schedule=svc.ScheduleIn(window=svc.WindowIn("8", "21:00", "Europe/Warsaw")),
        ),
        svc.CampaignIn(
            name="x",
            text="Hej",
            sender=good.sender,
            audience=good.audience,
            schedule=svc.ScheduleIn(rate_per_minute=0),
        ),
    ]
    for data in bad:
        with pytest.raises(Invalid):
            await svc.create(quiet_hub, account, data)
    assert await Campaign.count() == 0 and await CampaignTarget.count() == 0


async def test_send_skips_new_opt_outs_and_pause_resume_cancel(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    campaign = await svc.create(quiet_hub, account, _campaign(number_id, group_id, rate_per_minute=6))
    with pytest.raises(Conflict):
        await svc.pause(quiet_hub, campaign)
    campaign = await svc.start(quiet_hub, campaign, NOON)
    assert campaign.status == "running"
    # Opted out after the audience was built: left out at send time, with the reason.
    await Suppression(phone="+48601222000", account_id=account, kind=SuppressionKind.OPT_OUT).insert()
    result = await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)
    assert result == {"queued": 1, "batch": 0}  # a rate of 6 a minute: batches of one
    await sending.run_batch(quiet_hub, str(campaign.id), 1, NOON)
    paused = await svc.pause(quiet_hub, await _reload(campaign))
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 2, NOON)) == {
        "skipped": "campaign is paused"
    }
    with pytest.raises(Conflict):
        await svc.start(quiet_hub, paused, NOON)
    await svc.resume(quiet_hub, paused, NOON)
    await sending.run_batch(quiet_hub, str(campaign.id), 2, NOON)
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 3, NOON)) == {"done": True}
    done = await _reload(campaign)
    assert done.status == "done"
    assert done.counts["queued"] == 2 and done.counts["skipped"] == 1  # messages still queued to the gateway
    targets = await _targets(done)
    assert targets["+48601222000"].status == "skipped" and "opted out" in (
        targets["+48601222000"].reason or ""
    )
    sent = await Message.find({"campaign_id": str(campaign.id)}).to_list()
    assert sorted(m.recipient for m in sent) == ["+48601111000", "+48601111001"]
    assert all(
        m.campaign_name == "Wiosna" and m.client_id == sending.message_key(campaign.id, m.recipient)
        for m in sent
    )
    with pytest.raises(Conflict):
        await svc.cancel(quiet_hub, done, NOON)
    other = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    cancelled = await svc.cancel(quiet_hub, other, NOON)
    assert cancelled.status == "cancelled"
    assert (await sending.run_batch(quiet_hub, str(other.id), 0, NOON)) == {
        "skipped": "campaign is cancelled"
    }


async def test_window_holds_sends_until_it_opens(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    window = svc.WindowIn("08:00", "21:00", "Europe/Warsaw")
    campaign = await svc.create(quiet_hub, account, _campaign(number_id, group_id, window=window))
    night = datetime(2026, 12, 1, 21, 30, tzinfo=UTC)  # 22:30 in Warsaw
    await svc.start(quiet_hub, campaign, night)
    result = await sending.run_batch(quiet_hub, str(campaign.id), 0, night)
    opens = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)
    assert result == {"waiting": opens.isoformat()}
    waiting = await _reload(campaign)
    assert waiting.status == "waiting" and waiting.next_send_at == opens and waiting.batch == 1
    assert await Message.find({"campaign_id": str(campaign.id)}).count() == 0
    # The job queued for the opening runs then and sends.
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 1, opens))["queued"] == 3
    running = await _reload(campaign)
    assert running.status == "running" and running.next_send_at is None


async def test_usage_limit_pauses_and_resume_goes_on(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    campaign = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    per_text = (await _targets(campaign))["+48601111000"].segments
    await usage.set_limits(account, {"balance_units": per_text})
    await svc.start(quiet_hub, campaign, NOON)
    result = await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)
    assert "balance" in str(result["paused"])
    paused = await _reload(campaign)
    assert paused.status == "paused" and "balance" in (paused.paused_reason or "")
    assert paused.counts["skipped"] == 0  # nobody is given up: topping up and resuming sends to the rest
    assert await Message.find({"campaign_id": str(campaign.id)}).count() == 1
    await usage.top_up(account, 100)
    resumed = await svc.resume(quiet_hub, paused, NOON)
    assert resumed.paused_reason is None
    await sending.run_batch(quiet_hub, str(campaign.id), resumed.batch, NOON)
    assert await Message.find({"campaign_id": str(campaign.id)}).count() == 3


async def test_a_batch_run_twice_sends_each_message_once(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    campaign = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    await svc.start(quiet_hub, campaign, NOON)
    await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)
    # As if the worker died after storing the messages but before marking their recipients, and
    # the queue ran the same batch again.
    await CampaignTarget.get_pymongo_collection().update_many(
        {"campaign_id": campaign.id}, {"$set": {"stage": "pending", "message_id": None}}
    )
    await Campaign.get_pymongo_collection().update_one(
        {"_id": campaign.id}, {"$set": {"batch": 0, "cursor": 0}}
    )
    again = await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)
    assert again["queued"] == 3
    messages = await Message.find({"campaign_id": str(campaign.id)}).to_list()
    assert len(messages) == 3
    targets = await _targets(campaign)
    assert {t.message_id for t in targets.values()} == {m.id for m in messages}
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)) == {"skipped": "stale batch"}
    assert (await _reload(campaign)).counts["queued"] == 3


async def test_two_way_pairs_are_never_bound_to_two_live_campaigns(quiet_hub: HubContext) -> None:
    account, _, group_id = await _setup()
    pool = [await add_number(f"+4879910020{i}", NumberType.TWO_WAY) for i in range(2)]
    data = svc.CampaignIn(
        name="Pula",
        text="Hej {name|}",
        sender=svc.SenderTwoWay(),
        audience=svc.AudienceIn(group_ids=[str(group_id)]),
    )
    assert any(
        "2WAY pool has 2 number(s)" in w for w in (await svc.preview(quiet_hub, account, data)).warnings
    )
    first = await svc.create(quiet_hub, account, data)
    second = await svc.create(quiet_hub, account, data)
    third = await svc.create(quiet_hub, account, data)
    for c in (first, second, third):
        await svc.start(quiet_hub, c, NOON)
        await sending.run_batch(quiet_hub, str(c.id), 0, NOON)
    pairs: dict[tuple[str, str], str] = {}
    for c in (first, second):
        for t in (await _targets(c)).values():
            assert t.sender in {n.e164 for n in pool}
            assert (t.sender, t.phone) not in pairs
            pairs[(t.sender, t.phone)] = str(c.id)
    # Both pool numbers are held for each recipient: the third campaign skips them, saying why.
    third_targets = await _targets(third)
    assert {t.status for t in third_targets.values()} == {"skipped"}
    assert all("another live campaign" in (t.reason or "") for t in third_targets.values())


async def test_an_interrupted_sender_name_send_is_finished_once(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    data = _campaign(number_id, group_id)
    data = svc.CampaignIn(
        name="Nazwa", text="Promocja", sender=svc.SenderName("SKLEP"), audience=data.audience
    )
    campaign = await svc.create(quiet_hub, account, data)
    # The opt-out from the account's number does not cover a sender name; the block covers all.
    assert campaign.counts["recipients"] == 4 and campaign.excluded["blocked"] == 1
    await svc.start(quiet_hub, campaign, NOON)
    # A job died after claiming the first recipient, before the gateway answered.
    first = await CampaignTarget.find_one({"campaign_id": campaign.id, "n": 0})
    assert first is not None
    await CampaignTarget.get_pymongo_collection().update_one(
        {"_id": first.id}, {"$set": {"stage": "sending", "claimed_at": NOON}}
    )
    result = await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)
    assert result["queued"] == 3  # the claimed one is young: it may still be on its way
    again = await sending.run_batch(quiet_hub, str(campaign.id), 1, NOON)
    assert again == {"queued": 0, "batch": 1}
    # Two minutes on, the simulator de-duplicates by id: it is sent again, once.
    later = NOON + sending.STALE_SENDING
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 2, later))["queued"] == 1
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 3, later)) == {"done": True}
    done = await _reload(campaign)
    assert done.counts["sent"] == 4 and done.counts["queued"] == 0
    assert {t.sender for t in (await _targets(done)).values()} == {"SKLEP"}


async def test_the_sweep_requeues_live_campaigns(quiet_hub: HubContext) -> None:
    account, number_id, group_id = await _setup()
    live = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    await svc.create(quiet_hub, account, _campaign(number_id, group_id))  # a draft: left alone
    await svc.start(quiet_hub, live, NOON)
    before = (await quiet_hub.jobs.backlog()).queued
    assert await sending.sweep(quiet_hub, NOON) == 1
    # The batch the start queued is still queued: the sweep's job shares its key.
    assert (await quiet_hub.jobs.backlog()).queued == before


async def test_counters_a_kill_left_off_are_recounted(quiet_hub: HubContext) -> None:
    """A process killed between a recipient's move and the counters' `$inc` leaves them off; the
    sweep (a process starting) and the campaign's end set them to what the recipients say."""
    account, number_id, group_id = await _setup()
    campaign = await svc.create(quiet_hub, account, _campaign(number_id, group_id))
    await svc.start(quiet_hub, campaign, NOON)
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 0, NOON)) == {"queued": 3, "batch": 0}
    sent = await _reload(campaign)
    assert sent.counts["queued"] == 3
    # What a kill after the recipient's compare-and-set leaves: its status moved, the counters not.
    killed_at = datetime.now(UTC) - timedelta(minutes=1)
    coll = CampaignTarget.get_pymongo_collection()
    await coll.update_one(
        {"campaign_id": campaign.id, "phone": "+48601111000"},
        {"$set": {"status": "delivered", "moved_at": killed_at, "replied_at": killed_at}},
    )
    assert (await _reload(campaign)).counts["queued"] == 3
    # While a recipient moves (a live process between its two writes) the recount waits.
    await coll.update_one(
        {"campaign_id": campaign.id, "phone": "+48601111001"}, {"$set": {"moved_at": datetime.now(UTC)}}
    )
    assert await recount(campaign.id) is False
    assert (await _reload(campaign)).counts["delivered"] == 0
    await coll.update_one(
        {"campaign_id": campaign.id, "phone": "+48601111001"}, {"$set": {"moved_at": killed_at}}
    )
    assert await sending.sweep(quiet_hub, NOON) == 1
    fixed = await _reload(campaign)
    assert {k: fixed.counts[k] for k in ("recipients", "queued", "delivered", "skipped", "replied")} == {
        "recipients": 3,
        "queued": 2,
        "delivered": 1,
        "skipped": 0,
        "replied": 1,
    }
    # The end recounts too: another recipient moved without its counters, then the last batch.
    await coll.update_one(
        {"campaign_id": campaign.id, "phone": "+48601111001"},
        {"$set": {"status": "failed", "moved_at": killed_at}},
    )
    assert (await sending.run_batch(quiet_hub, str(campaign.id), 1, NOON)) == {"done": True}
    done = await _reload(campaign)
    assert done.status == "done"
    assert (done.counts["queued"], done.counts["failed"], done.counts["delivered"]) == (1, 1, 1)
