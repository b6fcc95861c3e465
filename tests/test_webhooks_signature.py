"""Signatures: what the simulator sends verifies independently, and every failure has a reason."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from simulator.domain.webhooks.signature import REASONS, sign, signature_header
from simulator.testing import Api
from simulator.webhooks import SignatureError, verify_signature

SECRET = "whsec_0123456789abcdef"
BODY = b'{"id":"evt_1","object":"event","type":"records.sync.completed"}'


def independent_verify(raw: bytes, header: str, secret: str) -> bool:
    """A receiver written from the documentation with the standard library only."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + raw, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


def deliver_one(api: Api) -> tuple[dict, dict]:
    """An endpoint on an inbox, one fired event; returns (endpoint, received request)."""
    inbox = api.post("/_sim/inboxes", {}).json
    endpoint = api.post("/webhooks", {"url": inbox["url"], "events": ["*"]}).json
    api.post("/patients", {"patient_id": "p-sig"})
    session = api.post(
        "/patient-sessions", {"patient_id": "p-sig", "return_url": "https://app.example/done"}
    ).json
    fired = api.post(
        "/_sim/events", {"type": "patient_session.completed", "object_id": session["id"]}
    )
    assert fired.status_code == 200, fired.json
    received = api.get(f"/_sim/inboxes/{inbox['id']}").json["received"]
    assert len(received) == 1
    return endpoint, received[0]


def test_simulator_signature_verifies_independently_and_with_helper(api: Api) -> None:
    endpoint, request = deliver_one(api)
    raw = request["body"].encode()
    header = request["headers"]["Medblocks-Signature"]
    assert header.startswith("t=") and ",v1=" in header
    assert independent_verify(raw, header, endpoint["secret"])
    assert not independent_verify(raw, header, "whsec_other")
    t = int(header.split(",")[0][2:])
    event = verify_signature(raw, header, endpoint["secret"], now=t + 10)
    assert event["object"] == "event"
    assert event["type"] == "patient_session.completed"
    assert event["id"].startswith("evt_")
    assert request["signature"] == {"valid": True, "reason": None}
    assert request["headers"]["Content-Type"] == "application/json"


def test_signature_is_over_timestamp_dot_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET, 1700000000) == expected
    assert signature_header(BODY, [SECRET], 1700000000) == f"t=1700000000,v1={expected}"


def reason_of(raw: bytes, header: str | None, **kw) -> str:
    with pytest.raises(SignatureError) as info:
        verify_signature(raw, header, SECRET, **kw)
    return info.value.reason


def test_missing_header() -> None:
    assert reason_of(BODY, None, now=1700000000) == "missing_header"
    assert reason_of(BODY, "  ", now=1700000000) == "missing_header"


@pytest.mark.parametrize(
    "header",
    ["garbage", "t=abc,v1=00", "v1=00", "t=1700000000", "t=1,t=2,v1=00"],
)
def test_malformed_header(header: str) -> None:
    assert reason_of(BODY, header, now=1700000000) == "malformed_header"


def test_timestamp_outside_tolerance_both_ways() -> None:
    header = signature_header(BODY, [SECRET], 1700000000)
    assert verify_signature(BODY, header, SECRET, now=1700000300)["id"] == "evt_1"
    assert reason_of(BODY, header, now=1700000301) == "timestamp_outside_tolerance"
    assert reason_of(BODY, header, now=1699999699) == "timestamp_outside_tolerance"
    assert verify_signature(BODY, header, SECRET, tolerance=1000, now=1700000900)


def test_no_matching_signature() -> None:
    header = signature_header(BODY, ["whsec_wrong"], 1700000000)
    assert reason_of(BODY, header, now=1700000000) == "no_matching_signature"
    tampered = BODY.replace(b"evt_1", b"evt_2")
    good = signature_header(BODY, [SECRET], 1700000000)
    assert reason_of(tampered, good, now=1700000000) == "no_matching_signature"


def test_any_of_several_v1_values_matches() -> None:
    header = signature_header(BODY, ["whsec_old", SECRET], 1700000000)
    assert header.count("v1=") == 2
    assert verify_signature(BODY, header, SECRET, now=1700000000)["id"] == "evt_1"


def test_bad_json() -> None:
    raw = b"not json{"
    header = signature_header(raw, [SECRET], 1700000000)
    assert reason_of(raw, header, now=1700000000) == "invalid_json"
    array = b"[1,2]"
    assert reason_of(array, signature_header(array, [SECRET], 1700000000), now=1700000000) == (
        "invalid_json"
    )


def test_reasons_are_the_named_set() -> None:
    assert set(REASONS) == {
        "missing_header",
        "malformed_header",
        "timestamp_outside_tolerance",
        "no_matching_signature",
        "invalid_json",
    }


def test_verify_accepts_str_body_and_default_now() -> None:
    import time

    now = int(time.time())
    header = signature_header(BODY.decode(), [SECRET], now)
    assert verify_signature(BODY.decode(), header, SECRET) == json.loads(BODY)
