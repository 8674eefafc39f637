"""The one entry for inbound texts from every gateway: check, accept into the log, answer.

A text (no attachments) is checked as far as it can be without routing it (its numbers, its
length, that the hub has the number it was sent to), then appended to the accept log and handed
to this process's pipeline (`hub.services.ingest_pipeline`). A message with attachments is
received directly (`hub.services.inbound.receive`): its files are fetched and stored before the
answer, since a gateway's retry is what fetches them again after a failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

from hub.context import HubContext
from hub.domain.messages import InboundMessage
from hub.services import inbound
from hub.services.errors import Invalid, NotFound
from hub.services.ingest_pipeline import Accepted, IngestPipeline, Outcome

NO_NUMBER = "no_number"
"""The unmatched reason of a text whose number was removed after the text was accepted."""


def outcome_of(received: inbound.Received) -> Outcome:
    message = received.message
    return Outcome(
        record_id=received.record_id,
        created=received.created,
        seq=message.seq if message is not None else None,
        matched=message is not None,
    )


async def accept(
    hub: HubContext,
    msg: InboundMessage,
    media_auth: tuple[str, str] | None = None,
    *,
    wait_s: float | None = None,
) -> Outcome | Accepted:
    """Store `msg` durably and answer with its message, or with its log entry when routing it
    would keep the gateway waiting (a backlog, or longer than `wait_s`: HUB_INGEST_ANSWER_WAIT
    unless given).

    Raises:
        Invalid: a number or the text is not acceptable (nothing stored).
        NotFound: the hub has no such number (nothing stored).
        Busy: the hub is too far behind to take more now (nothing stored).
    """
    pipeline = hub.ingest
    if msg.media or pipeline is None:
        return outcome_of(await inbound.receive(hub, msg, media_auth))
    if len(msg.text) > inbound.MAX_TEXT:
        raise Invalid(f"text is longer than {inbound.MAX_TEXT} characters", field="text")
    sender = inbound.normalise_number(msg.sender, "from")
    recipient = inbound.normalise_number(msg.recipient, "to")
    await inbound.find_number(recipient)
    return await pipeline.accept(dataclasses.replace(msg, sender=sender, recipient=recipient), wait_s)


@contextlib.asynccontextmanager
async def running(hub: HubContext) -> AsyncIterator[None]:
    """This process's pipeline, for as long as it serves webhooks (one per context)."""
    if hub.ingest is not None:
        yield
        return

    async def route(msg: InboundMessage) -> Outcome:
        try:
            return outcome_of(await inbound.receive(hub, msg))
        except NotFound:
            # Checked when accepted, removed since: the text is the operator's to see, not lost.
            return outcome_of(await inbound.keep_unroutable(msg, NO_NUMBER))

    pipeline = IngestPipeline(hub.settings.ingest, route)
    await pipeline.start()
    hub.ingest = pipeline
    try:
        yield
    finally:
        hub.ingest = None
        await pipeline.stop()
