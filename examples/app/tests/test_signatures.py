"""HealthApp's webhook verifier on its own: the five reasons, constant-time, raw bytes."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from healthapp.signatures import SignatureError, verify

SECRET = "whsec_test"
BODY = b'{"id":"evt_1","type":"records.sync.failed","data":{"object":{}}}'


def header(body: bytes, t: int, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def test_a_good_signature_gives_the_event() -> None:
    assert verify(BODY, header(BODY, 1000), SECRET, now=lambda: 1000.0)["id"] == "evt_1"
    assert verify(BODY, header(BODY, 1000), SECRET, now=lambda: 1300.0)["id"] == "evt_1"


@pytest.mark.parametrize(
    ("body", "sig", "now", "reason"),
    [
        (BODY, None, 1000, "missing_header"),
        (BODY, "garbage", 1000, "malformed_header"),
        (BODY, "t=abc,v1=00", 1000, "malformed_header"),
        (BODY, header(BODY, 1000), 1301, "timestamp_outside_tolerance"),
        (BODY, header(BODY, 1000, "whsec_other"), 1000, "no_matching_signature"),
        (BODY + b" ", header(BODY, 1000), 1000, "no_matching_signature"),
        (b"{", header(b"{", 1000), 1000, "invalid_json"),
    ],
)
def test_what_does_not_verify(body: bytes, sig: str | None, now: int, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(body, sig, SECRET, now=lambda: float(now))
    assert caught.value.reason == reason
