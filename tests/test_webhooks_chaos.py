"""Chaos for grading receivers: each fault is real, reproducible and marked in the log."""

from __future__ import annotations

import json

import pytest
from webhooks_support import fire_sync_failed, inbox_endpoint, ms, received, records

from simulator.testing import Api, Sim
from simulator.webhooks import SignatureError, verify_signature


def set_chaos(api: Api, endpoint_id: str, **options) -> dict:
    resp = api.put(f"/_sim/webhooks/{endpoint_id}/chaos", options)
    assert resp.status_code == 200, resp.json
    return resp.json


def attempts(api: Api, endpoint_id: str) -> list[dict]:
    return api.get(f"/_sim/webhooks/{endpoint_id}/attempts", limit=100).json["data"][::-1]


def verdict_with(request: dict, secret: str) -> str | None:
    header = request["headers"]["Medblocks-Signature"]
    now = ms(request["received_at"]) // 1000
    try:
        verify_signature(request["body"], header, secret, now=now)
    except SignatureError as exc:
        return exc.reason
    return None


def test_chaos_config_roundtrip_and_validation(api: Api) -> None:
    _, wh = inbox_endpoint(api)
    path = f"/_sim/webhooks/{wh['id']}/chaos"
    assert api.get(path).json["duplicate"] == 0
    state = set_chaos(api, wh["id"], duplicate=True, bad_signature=0.25, delay_seconds=30)
    assert state["duplicate"] == 1 and state["bad_signature"] == 0.25
    assert state["delay_seconds"] == 30 and state["reorder"] is False
    assert api.get(path).json == state
    assert api.put(path, {"duplicate": 1.5}).status_code == 400
    assert api.put(path, {"explode": True}).status_code == 400
    assert api.put(path, {"delay_seconds": -1}).status_code == 400
    assert api.delete(path).json["bad_signature"] == 0
    assert api.get("/_sim/webhooks/wh_missing/chaos").status_code == 404


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("bad_signature", "no_matching_signature"),
        ("stale_timestamp", "timestamp_outside_tolerance"),
        ("tampered_body", "no_matching_signature"),
    ],
)
def test_signature_faults(api: Api, fault: str, reason: str) -> None:
    box, wh = inbox_endpoint(api)
    set_chaos(api, wh["id"], **{fault: True})
    fire_sync_failed(api)
    (request,) = received(api, box["id"])
    assert request["signature"] == {"valid": False, "reason": reason}
    assert verdict_with(request, wh["secret"]) == reason
    (attempt,) = attempts(api, wh["id"])
    assert attempt["chaos"] == [fault]
    if fault == "tampered_body":
        assert json.loads(request["body"])["tampered"] is True


def test_previous_secret_only_after_a_rotation(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    set_chaos(api, wh["id"], previous_secret=True)
    fire_sync_failed(api)
    assert received(api, box["id"])[0]["signature"]["valid"] is True
    assert attempts(api, wh["id"])[0]["chaos"] == []
    rotated = api.post(f"/webhooks/{wh['id']}/rotate-secret").json
    fire_sync_failed(api)
    request = received(api, box["id"])[1]
    assert request["signature"] == {"valid": False, "reason": "no_matching_signature"}
    assert verdict_with(request, wh["secret"]) is None  # signed with the old secret
    assert verdict_with(request, rotated["secret"]) == "no_matching_signature"
    assert attempts(api, wh["id"])[1]["chaos"] == ["previous_secret"]


def test_a_rejected_chaos_delivery_is_retried_like_any_failure(api: Api) -> None:
    box, wh = inbox_endpoint(api, sequence=[400, 200])
    set_chaos(api, wh["id"], bad_signature=True)
    fire_sync_failed(api)
    api.advance(60)
    (record,) = records(api, wh["id"])
    assert record["attempts"] == 2 and record["delivered_at"] is not None
    assert [r["response_status"] for r in received(api, box["id"])] == [400, 200]


def test_duplicate(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    set_chaos(api, wh["id"], duplicate=True)
    fire_sync_failed(api)
    got = received(api, box["id"])
    assert len(got) == 2
    assert got[0]["event_id"] == got[1]["event_id"]
    assert got[0]["body"] == got[1]["body"]
    assert all(r["signature"]["valid"] for r in got)
    log = attempts(api, wh["id"])
    assert [(a["trigger"], a["chaos"]) for a in log] == [
        ("automatic", []),
        ("duplicate", ["duplicate"]),
    ]
    assert records(api, wh["id"])[0]["attempts"] == 1


def test_delay(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    set_chaos(api, wh["id"], delay_seconds=120)
    start = ms(fire_sync_failed(api)["created_at"])
    assert received(api, box["id"]) == []
    assert ms(records(api, wh["id"])[0]["next_attempt_at"]) == start + 120_000
    api.advance(119)
    assert received(api, box["id"]) == []
    api.advance(1)
    (request,) = received(api, box["id"])
    assert ms(request["received_at"]) == start + 120_000
    assert attempts(api, wh["id"])[0]["chaos"] == ["delayed"]


def test_reorder(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    set_chaos(api, wh["id"], reorder=True, reorder_window_seconds=30)
    fired = [fire_sync_failed(api, patient_id=f"p{i}") for i in range(3)]
    assert received(api, box["id"]) == []
    api.advance(30)
    order = [r["event_id"] for r in received(api, box["id"])]
    sent = [f["deliveries"][0]["id"] for f in fired]
    assert order == sent[::-1]
    assert all(a["chaos"] == ["reordered"] for a in attempts(api, wh["id"]))
    fire_sync_failed(api, patient_id="p-next")  # a new window opens
    assert len(received(api, box["id"])) == 3
    api.advance(30)
    assert len(received(api, box["id"])) == 4


def fault_pattern(seed: int) -> list[bool | None]:
    with Sim() as sim:
        sim.route_outbound()
        api, _ = sim.new_workspace(seed=seed)
        box, wh = inbox_endpoint(api)
        set_chaos(api, wh["id"], bad_signature=0.5)
        for i in range(20):
            fire_sync_failed(api, patient_id=f"p{i}")
        return [r["signature"]["valid"] for r in received(api, box["id"])]


def test_probabilities_are_reproducible_from_the_seed() -> None:
    first = fault_pattern(7)
    assert first == fault_pattern(7)
    assert True in first and False in first
