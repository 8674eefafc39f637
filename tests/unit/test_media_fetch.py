"""Which hosts get the gateway's credentials, and which addresses count as public."""

from __future__ import annotations

import pytest

from hub.services.media_fetch import credential_host, public_address
from hub.settings import MediaSettings

TWILIO = MediaSettings().credential_hosts


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("api.twilio.com", True),
        ("API.Twilio.com.", True),
        ("media.twiliocdn.com", True),
        ("s3.eu.twiliocdn.com", True),
        ("twiliocdn.com", False),
        ("eviltwiliocdn.com", False),
        ("api.twilio.com.evil.example", False),
        ("twilio.com", False),
        ("127.0.0.1", False),
    ],
)
def test_credentials_go_to_twilio_media_hosts_only(host: str, expected: bool) -> None:
    assert credential_host(host, TWILIO) is expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_only_public_addresses_are_public(address: str, expected: bool) -> None:
    assert public_address(address) is expected
