"""The per-gateway MMS limits and the signed media links (pure)."""

from __future__ import annotations

from hub.domain import media_links, mms_limits
from hub.domain.mms_limits import NO_MMS, limits_for, refusal

SECRET = "s" * 32
FILE_ID = "65f0c0ffee0000000000abcd"


def test_gateways_without_mms_have_no_limits() -> None:
    for provider in ("kannel", "smpp", "generic", "nonexistent"):
        assert limits_for(provider, 5_000_000, 10) is None
        assert refusal(None, [("image/png", 10)]) == NO_MMS
    assert refusal(None, []) is None


def test_limits_are_capped_by_the_hubs_own() -> None:
    twilio = limits_for("twilio", 1_000, 2)
    assert twilio is not None and twilio.max_bytes == 1_000 and twilio.max_files == 2
    serwersms = limits_for("serwersms", 5 * 1024 * 1024, 10)
    assert serwersms is not None and serwersms.max_bytes == 300 * 1024 and serwersms.max_files == 5


def test_refusals_say_what_is_wrong() -> None:
    limits = limits_for("serwersms", 5 * 1024 * 1024, 10)
    assert refusal(limits, [("image/jpeg", 100_000), ("image/png", 100_000)]) is None
    assert "300 KB" in (refusal(limits, [("image/jpeg", 200_000), ("image/png", 200_000)]) or "")
    assert "text/plain cannot be sent" in (refusal(limits, [("text/plain", 10)]) or "")
    assert "at most 5 attachments" in (refusal(limits, [("image/png", 1)] * 6) or "")


def test_sizes_read_as_people_write_them() -> None:
    assert mms_limits.format_size(300 * 1024) == "300 KB"
    assert mms_limits.format_size(5 * 1024 * 1024) == "5 MB"
    assert mms_limits.format_size(1536 * 1024) == "1.5 MB"
    assert mms_limits.format_size(60) == "60 B"


def test_a_signed_link_holds_until_it_expires() -> None:
    path = media_links.signed_path(SECRET, FILE_ID, now=1_000_000, ttl_s=3600)
    assert path.startswith(f"/media/{FILE_ID}?expires=1003600&signature=")
    signature = path.rsplit("=", 1)[1]
    assert media_links.check(SECRET, FILE_ID, 1_003_600, signature, now=1_003_600) is None
    assert media_links.check(SECRET, FILE_ID, 1_003_600, signature, now=1_003_601) == "the link has expired"


def test_a_changed_link_is_refused() -> None:
    signature = media_links.signature(SECRET, FILE_ID, 1_003_600)
    bad = "the link's signature is not valid"
    assert media_links.check(SECRET, FILE_ID, 1_003_601, signature, now=0) == bad
    assert media_links.check(SECRET, "65f0c0ffee0000000000abce", 1_003_600, signature, now=0) == bad
    assert media_links.check("t" * 32, FILE_ID, 1_003_600, signature, now=0) == bad
    assert media_links.check(SECRET, FILE_ID, 1_003_600, "", now=0) == bad
    assert media_links.check(SECRET, FILE_ID, 1_003_600, "żółw", now=0) == bad
