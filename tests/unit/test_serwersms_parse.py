"""Reading SerwerSMS API v2 answers.

Every sample below copies a shape from SerwerSMS's public client libraries: the doc comments of
SerwerSMSpl/serwersms-php-api-v2 `src/SerwerSMS/Messages.php` (the same in the Python client's
`serwersms/message.py`), the README's example ids, and `src/SerwerSMS.php` / `Error.php` for errors.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.domain.messages import MessageStatus
from hub.ingest import serwersms
from hub.services.errors import Invalid

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

# Messages.php, recived(): items of id (int), type eco|nd|ndi|mms, phone, recived (date),
# message_id (ECO only), blacklist, text.
NDI_ITEM: dict[str, Any] = {
    "id": 2477793,
    "type": "ndi",
    "phone": "+48601222333",
    "recived": "2026-07-01 14:05:09",
    "blacklist": False,
    "text": "Zażółć gęślą jaźń",
}
# Messages.php, recived(): an MMS adds to_number, title and attachments of id, name,
# content_type and data ("File"; base64, as send_mms's "File in base64 encoding").
MMS_ITEM: dict[str, Any] = {
    "id": 2204974,
    "type": "mms",
    "phone": "+48601222333",
    "recived": "2026-12-04 09:30:00",
    "to_number": "+48500100200",
    "blacklist": False,
    "title": "Zdjęcie",
    "attachments": [
        {"id": 2518, "name": "foto.png", "content_type": "image/png", "data": base64.b64encode(PNG).decode()}
    ],
}


def test_an_ndi_text_reaches_the_number_it_was_polled_for_in_utc() -> None:
    msg = serwersms.parse_received(NDI_ITEM, "+48500100200")
    assert msg.provider == "serwersms" and msg.provider_message_id == "ndi-2477793"
    assert (msg.sender, msg.recipient, msg.text) == ("+48601222333", "+48500100200", "Zażółć gęślą jaźń")
    # Polish summer time is UTC+2.
    assert msg.received_at == datetime(2026, 7, 1, 12, 5, 9, tzinfo=UTC)
    assert msg.media == ()


def test_an_mms_brings_its_title_and_its_attachments_bytes() -> None:
    msg = serwersms.parse_received(MMS_ITEM, "")
    assert msg.recipient == "+48500100200"  # to_number wins
    assert msg.text == "Zdjęcie" and msg.provider_message_id == "mms-2204974"
    assert msg.received_at == datetime(2026, 12, 4, 8, 30, tzinfo=UTC)  # winter: UTC+1
    (media,) = msg.media
    assert (media.data, media.content_type, media.filename, media.url) == (PNG, "image/png", "foto.png", None)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": ""}, "phone"),
        ({"id": None}, "id"),
        ({"recived": "yesterday"}, "recived"),
        ({"attachments": [{"id": 1, "name": "x", "data": "not base64!"}]}, "attachments"),
        ({"attachments": [{"id": 1, "name": "x"}]}, "attachments"),
    ],
)
def test_a_broken_item_is_refused_by_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(Invalid) as caught:
        serwersms.parse_received({**MMS_ITEM, **change}, "")
    assert caught.value.extra["field"] == field


def test_an_item_without_a_known_hub_number_is_refused() -> None:
    with pytest.raises(Invalid):
        serwersms.parse_received({**NDI_ITEM, "type": "eco"}, "")


# Messages.php, reports(): items of id ("aca3944055" in the README), phone, status, queued, sent,
# delivered, reason (message_expired … other_error).
def _report(**change: Any) -> dict[str, Any]:
    return {
        "id": "aca3944055",
        "phone": "+48601222333",
        "status": "delivered",
        "queued": "2026-12-04 12:59:00",
        "sent": "2026-12-04 12:59:30",
        "delivered": "2026-12-04 13:00:05",
        "reason": None,
        **change,
    }


def test_a_delivered_report_is_dated_when_the_phone_took_it() -> None:
    report = serwersms.parse_report(_report(), NOW)
    assert report is not None
    assert (report.provider_message_id, report.status) == ("aca3944055", MessageStatus.DELIVERED)
    assert report.at == datetime(2026, 12, 4, 12, 0, 5, tzinfo=UTC) and report.detail is None


@pytest.mark.parametrize(
    ("status", "reason", "expected", "detail"),
    [
        ("undelivered", "wrong_number", MessageStatus.UNDELIVERED, "wrong number (wrong_number)"),
        ("unsent", "limit_exhausted", MessageStatus.FAILED, "the SerwerSMS account's limit is exhausted"),
        ("undelivered", "something_new", MessageStatus.UNDELIVERED, "something_new"),
        ("sent", None, MessageStatus.SENT, None),
    ],
)
def test_a_failure_carries_its_reason_in_words(
    status: str, reason: str | None, expected: MessageStatus, detail: str | None
) -> None:
    report = serwersms.parse_report(_report(status=status, reason=reason, delivered=None), NOW)
    assert report is not None and report.status == expected
    assert (report.detail or "").startswith(detail or "") and bool(report.detail) == bool(detail)
    assert report.error_code == (reason if expected != MessageStatus.SENT else None)


@pytest.mark.parametrize("status", ["in_progress", "saved", "pending"])
def test_statuses_that_say_nothing_new_are_no_report(status: str) -> None:
    assert serwersms.parse_report(_report(status=status), NOW) is None


def test_every_documented_reason_has_words() -> None:
    documented = [
        *("message_expired", "unsupported_number", "message_rejected", "missed_call", "wrong_number"),
        *("limit_exhausted", "lock_send", "wrong_message", "operator_error", "wrong_sender_name"),
        *("number_is_blacklisted", "sending_to_foreign_networks_is_locked", "no_permission_to_send_messages"),
        "other_error",
    ]
    assert sorted(serwersms.REASONS) == sorted(documented)


def test_an_error_answer_raises_with_its_code() -> None:
    # src/SerwerSMS.php reads `error->message` and `error->code`; Error.php adds `type`.
    with pytest.raises(serwersms.ApiError) as caught:
        serwersms.page_of({"error": {"code": 1001, "type": "InvalidUser", "message": "Niepoprawny login"}})
    assert (caught.value.code, caught.value.type) == (1001, "InvalidUser")


def test_a_listing_gives_its_items_and_pages() -> None:
    page = serwersms.page_of({"paging": {"page": 2, "count": 3}, "items": [NDI_ITEM, MMS_ITEM]})
    assert (page.page, page.count, len(page.items)) == (2, 3, 2)
    assert serwersms.page_of({"items": []}).count == 1
    with pytest.raises(Invalid):
        serwersms.page_of(["not", "an", "object"])
