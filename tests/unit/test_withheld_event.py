"""`message.created` carries the automatic replies routing held back (`withheld`), in its schema."""

from __future__ import annotations

import msgspec
import pytest

from hub.domain import events as ev
from tests.unit.test_events import AT, CONV, MESSAGE

HELD = ev.WithheldReply(
    send="SendSurveyMessage", text="A czy B? (A/B)", reason="auto_reply_limit", limit="5/3600s"
)


def test_withheld_replies_round_trip_in_message_created() -> None:
    message = msgspec.structs.replace(MESSAGE, withheld=[HELD])
    event = ev.MessageCreated(seq=7, account_id="a1", at=AT, data=message, conversation=CONV)
    decoded = ev.decode_event(ev.encode_event(event))
    assert isinstance(decoded, ev.MessageCreated) and decoded.data.withheld == [HELD]
    # A message without any stays as before on the wire: an empty list.
    plain = ev.decode_event(ev.encode_event(msgspec.structs.replace(event, data=MESSAGE)))
    assert isinstance(plain, ev.MessageCreated) and plain.data.withheld == []
    assert "WithheldReply" in str(ev.event_json_schema())


def test_an_unknown_reason_is_not_an_event() -> None:
    bad = msgspec.json.decode(
        ev.encode_event(
            ev.MessageCreated(
                seq=7,
                account_id="a1",
                at=AT,
                data=msgspec.structs.replace(MESSAGE, withheld=[HELD]),
                conversation=CONV,
            )
        )
    )
    bad["data"]["withheld"][0]["reason"] = "because"
    with pytest.raises(msgspec.ValidationError):
        ev.decode_event(msgspec.json.encode(bad))
