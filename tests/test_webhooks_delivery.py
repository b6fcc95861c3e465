"""Delivery on the virtual clock: the envelope, the 9-attempt schedule, disable, redeliver."""

from __future__ import annotations

import json

from webhooks_support import (
    endpoint,
    fire_sync_failed,
    inbox,
    inbox_endpoint,
    ms,
    received,
    records,
    source_id,
)

from simulator.core.timeutil import HOUR, MINUTE
from simulator.testing import Api, Sim

OFFSETS = [
    0,
    1 * MINUTE,
    6 * MINUTE,
    36 * MINUTE,
    2 * HOUR + 36 * MINUTE,
    14 * HOUR + 36 * MINUTE,
    38 * HOUR + 36 * MINUTE,
    62 * HOUR + 36 * MINUTE,
    86 * HOUR + 36 * MINUTE,
]


def test_schedule_against_a_receiver_failing_forever(api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    occurrence = fire_sync_failed(api)
    start = ms(occurrence["created_at"])
    record = records(api, wh["id"])[0]
    assert record["attempts"] == 1
    assert ms(record["next_attempt_at"]) == start + MINUTE
    api.advance(5 * 24 * 3600)
    arrivals = [ms(r["received_at"]) - start for r in received(api, box["id"])]
    assert arrivals == OFFSETS
    record = records(api, wh["id"])[0]
    assert record["attempts"] == 9
    assert record["next_attempt_at"] is None
    assert record["delivered_at"] is None
    assert record["last_status_code"] == 500
    assert api.get(f"/webhooks/{wh['id']}").json["status"] == "disabled"
    assert [e["id"] for e in api.get("/webhooks", status="disabled").json["data"]] == [wh["id"]]


def test_next_attempt_at_follows_the_schedule(api: Api) -> None:
    _, wh = inbox_endpoint(api, status=503)
    start = ms(fire_sync_failed(api)["created_at"])
    for n in range(1, 9):
        record = records(api, wh["id"])[0]
        assert record["attempts"] == n
        assert ms(record["next_attempt_at"]) == start + OFFSETS[n]
        api.post("/_sim/clock/set", {"now": record["next_attempt_at"]})
    record = records(api, wh["id"])[0]
    assert record["attempts"] == 9 and record["next_attempt_at"] is None


def test_delivered_at_the_third_attempt(api: Api) -> None:
    box, wh = inbox_endpoint(api, sequence=[500, 500, 200])
    start = ms(fire_sync_failed(api)["created_at"])
    api.advance(3600)
    record = records(api, wh["id"])[0]
    assert record["attempts"] == 3
    assert record["next_attempt_at"] is None
    assert ms(record["delivered_at"]) == start + 6 * MINUTE
    assert record["last_status_code"] == 200
    assert [r["response_status"] for r in received(api, box["id"])] == [500, 500, 200]
    api.advance(7 * 24 * 3600)
    assert len(received(api, box["id"])) == 3
    assert api.get(f"/webhooks/{wh['id']}").json["status"] == "active"


def test_envelope_and_record_shape(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    occurrence = fire_sync_failed(api, error_message="portal down")
    record = records(api, wh["id"])[0]
    assert set(record) == {
        "id",
        "resource_type",
        "webhook_endpoint_id",
        "type",
        "data",
        "api_version",
        "attempts",
        "next_attempt_at",
        "delivered_at",
        "last_status_code",
        "last_response_body",
        "last_redelivered_at",
        "created_at",
    }
    assert record["resource_type"] == "event"
    assert record["webhook_endpoint_id"] == wh["id"]
    assert record["id"].startswith("evt_")
    assert record["delivered_at"] is not None and record["attempts"] == 1
    assert occurrence["deliveries"] == [{"id": record["id"], "webhook_endpoint_id": wh["id"]}]
    (request,) = received(api, box["id"])
    envelope = json.loads(request["body"])
    assert list(envelope) == ["id", "object", "type", "api_version", "created_at", "data"]
    assert envelope["id"] == record["id"]
    assert envelope["object"] == "event"
    assert envelope["type"] == "records.sync.failed"
    assert envelope["api_version"] == wh["api_version"]
    assert envelope["created_at"] == occurrence["created_at"] == record["created_at"]
    assert envelope["data"] == record["data"] == occurrence["data"]
    assert envelope["data"]["object"] == {
        "resource_type": "records_sync",
        "patient_id": "p-hooks",
        "connection_id": source_id(api),
        "error_message": "portal down",
    }
    assert request["method"] == "POST"


def test_only_matching_active_endpoints_receive(api: Api) -> None:
    all_box, all_wh = inbox_endpoint(api)
    sync_box = inbox(api)
    endpoint(api, sync_box["url"], ["records.sync.completed"])
    session_box = inbox(api)
    endpoint(api, session_box["url"], ["patient_session.completed"])
    fire_sync_failed(api)
    assert len(received(api, all_box["id"])) == 1
    assert received(api, sync_box["id"]) == []
    assert received(api, session_box["id"]) == []
    api.post("/patients", {"patient_id": "p-c"})
    session = api.post(
        "/patient-sessions", {"patient_id": "p-c", "return_url": "https://app.example/done"}
    ).json
    api.post("/_sim/events", {"type": "patient_session.completed", "object_id": session["id"]})
    (got,) = received(api, session_box["id"])
    assert got["event_type"] == "patient_session.completed"
    assert json.loads(got["body"])["data"]["object"]["id"] == session["id"]
    assert len(received(api, all_box["id"])) == 2


def test_a_generation_b_endpoint_receives_the_b_session_event(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="manual", naming="B")
    session_box = inbox(api)
    endpoint(api, session_box["url"], ["patient_flow.completed"])
    sync_box = inbox(api)
    endpoint(api, sync_box["url"], ["records.sync.completed"])
    api.post("/patients", {"patient_id": "p-b"})
    flow = api.post(
        "/patient-flows", {"patient_id": "p-b", "return_url": "https://app.example/done"}
    ).json
    api.post("/_sim/events", {"type": "patient_flow.completed", "object_id": flow["id"]})
    (got,) = received(api, session_box["id"])
    assert got["event_type"] == "patient_flow.completed"
    assert json.loads(got["body"])["data"]["object"]["id"] == flow["id"]
    assert received(api, sync_box["id"]) == []


def test_events_are_listed_with_and_without_endpoints(api: Api) -> None:
    first = fire_sync_failed(api)
    assert first["deliveries"] == []
    _, wh = inbox_endpoint(api)
    second = fire_sync_failed(api)
    listed = api.get("/_sim/events").json["data"]
    assert [e["id"] for e in listed] == [second["id"], first["id"]]
    assert listed[0]["deliveries"][0]["webhook_endpoint_id"] == wh["id"]
    assert listed[1]["type"] == "records.sync.failed"
    page = api.get("/_sim/events", limit=1).json
    assert page["has_more"] is True
    rest = api.get("/_sim/events", limit=1, starting_after=page["next_cursor"]).json
    assert [e["id"] for e in rest["data"]] == [first["id"]]
    assert api.get("/_sim/events", type="records.sync.completed").json["data"] == []
    assert api.get("/_sim/events", type="nope").status_code == 400
    assert api.get(f"/_sim/events/{first['id']}").json["id"] == first["id"]
    assert api.get("/_sim/events/occ_missing").status_code == 404


def test_disabled_endpoint_keeps_new_events_without_sending(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    api.patch(f"/webhooks/{wh['id']}", {"status": "disabled"})
    fire_sync_failed(api)
    api.advance(24 * 3600)
    assert received(api, box["id"]) == []
    (record,) = records(api, wh["id"])
    assert record["attempts"] == 0 and record["next_attempt_at"] is None
    api.patch(f"/webhooks/{wh['id']}", {"status": "active"})
    api.advance(24 * 3600)
    assert received(api, box["id"]) == []  # not sent by re-enabling
    redone = api.post(f"/events/{record['id']}/redeliver").json
    assert redone["attempts"] == 1 and redone["delivered_at"] is not None
    assert len(received(api, box["id"])) == 1


def test_disabling_stops_pending_retries(api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    fire_sync_failed(api)
    api.patch(f"/webhooks/{wh['id']}", {"status": "disabled"})
    (record,) = records(api, wh["id"])
    assert record["next_attempt_at"] is None
    api.patch(f"/webhooks/{wh['id']}", {"status": "active"})
    api.advance(5 * 24 * 3600)
    assert len(received(api, box["id"])) == 1
    assert records(api, wh["id"])[0]["attempts"] == 1


def test_auto_disable_stops_the_other_pending_events(api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    fire_sync_failed(api)
    api.advance(86 * 3600)  # the first event has 8 attempts; its 9th is 36 min away
    fire_sync_failed(api, patient_id="p-other")
    api.advance(3600)
    assert api.get(f"/webhooks/{wh['id']}").json["status"] == "disabled"
    later, first = records(api, wh["id"])
    assert first["attempts"] == 9
    assert later["attempts"] == 3  # +0, +1 min, +6 min before the 9th of the first at +36 min
    assert later["next_attempt_at"] is None
    count = len(received(api, box["id"]))
    api.advance(5 * 24 * 3600)
    assert len(received(api, box["id"])) == count


def test_delivered_filter(api: Api) -> None:
    box, wh = inbox_endpoint(api, sequence=[200, 500])
    fire_sync_failed(api)
    fire_sync_failed(api)
    done = records(api, wh["id"], delivered="true")
    pending = records(api, wh["id"], delivered="false")
    assert len(done) == 1 and done[0]["delivered_at"] is not None
    assert len(pending) == 1 and pending[0]["delivered_at"] is None
    assert len(records(api, wh["id"])) == 2
    assert api.get(f"/webhooks/{wh['id']}/events", delivered="yes").status_code == 400


def test_response_body_is_truncated_to_4_kb(api: Api) -> None:
    _, wh = inbox_endpoint(api, status=500, body="x" * 5000)
    fire_sync_failed(api)
    assert records(api, wh["id"])[0]["last_response_body"] == "x" * 4096


def test_redeliver_rate_limit_and_record(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    fire_sync_failed(api)
    (record,) = records(api, wh["id"])
    first = api.post(f"/events/{record['id']}/redeliver")
    assert first.status_code == 200
    assert first.json["attempts"] == 2
    assert first.json["last_redelivered_at"] == api.now()
    again = api.post(f"/events/{record['id']}/redeliver")
    assert again.status_code == 429
    assert again.json["error"]["type"] == "rate_limit_error"
    assert again.headers["Retry-After"] == "60"
    api.advance(45)
    assert api.post(f"/events/{record['id']}/redeliver").headers["Retry-After"] == "15"
    api.advance(15)
    assert api.post(f"/events/{record['id']}/redeliver").status_code == 200
    assert len(received(api, box["id"])) == 3
    assert {r["event_id"] for r in received(api, box["id"])} == {record["id"]}
    assert api.post("/events/evt_missing/redeliver").status_code == 404


def test_redeliver_success_ends_pending_retries(api: Api) -> None:
    box, wh = inbox_endpoint(api, sequence=[500, 200])
    fire_sync_failed(api)
    (record,) = records(api, wh["id"])
    assert record["next_attempt_at"] is not None
    redone = api.post(f"/events/{record['id']}/redeliver").json
    assert redone["delivered_at"] is not None and redone["next_attempt_at"] is None
    api.advance(5 * 24 * 3600)
    assert len(received(api, box["id"])) == 2


def test_failed_redeliver_keeps_the_automatic_schedule(api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    start = ms(fire_sync_failed(api)["created_at"])
    (record,) = records(api, wh["id"])
    api.advance(10)
    redone = api.post(f"/events/{record['id']}/redeliver").json
    assert redone["attempts"] == 2
    assert redone["last_status_code"] == 500
    assert ms(redone["next_attempt_at"]) == start + MINUTE
    api.advance(5 * 24 * 3600)
    assert len(received(api, box["id"])) == 10  # 9 automatic + 1 manual
    assert api.get(f"/webhooks/{wh['id']}").json["status"] == "disabled"


def test_redeliver_on_a_disabled_endpoint_is_a_conflict(api: Api) -> None:
    _, wh = inbox_endpoint(api)
    fire_sync_failed(api)
    (record,) = records(api, wh["id"])
    api.patch(f"/webhooks/{wh['id']}", {"status": "disabled"})
    resp = api.post(f"/events/{record['id']}/redeliver")
    assert resp.status_code == 409
    assert resp.json["error"]["code"] == "resource_conflict"


def test_rotation_signs_with_the_new_secret(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    rotated = api.post(f"/webhooks/{wh['id']}/rotate-secret").json
    fire_sync_failed(api)
    (request,) = received(api, box["id"])
    assert request["signature"] == {"valid": True, "reason": None}
    from simulator.webhooks import SignatureError, verify_signature

    header = request["headers"]["Medblocks-Signature"]
    now = int(header.split(",")[0][2:])
    verify_signature(request["body"], header, rotated["secret"], now=now)
    try:
        verify_signature(request["body"], header, wh["secret"], now=now)
    except SignatureError as exc:
        assert exc.reason == "no_matching_signature"
    else:
        raise AssertionError("the old secret still verifies")


def test_delete_removes_history_and_pending_attempts(api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    fire_sync_failed(api)
    (record,) = records(api, wh["id"])
    api.delete(f"/webhooks/{wh['id']}")
    api.advance(5 * 24 * 3600)
    assert len(received(api, box["id"])) == 1
    assert api.post(f"/events/{record['id']}/redeliver").status_code == 404


def test_unreachable_receiver_is_a_failure(api: Api) -> None:
    wh = endpoint(api, "https://unreachable.invalid/hook")
    fire_sync_failed(api)
    (record,) = records(api, wh["id"])
    assert record["attempts"] == 1
    assert record["last_status_code"] is None
    assert record["delivered_at"] is None
    log = api.get(f"/_sim/webhooks/{wh['id']}/attempts").json["data"]
    assert log[0]["error"].startswith("connection_error")


def test_restart_resumes_pending_deliveries(tmp_path) -> None:
    db = str(tmp_path / "sim.db")
    with Sim(db_path=db) as first:
        first.route_outbound()
        api, created = first.new_workspace(seed=5)
        box, wh = inbox_endpoint(api, sequence=[500, 500, 200])
        fire_sync_failed(api)
        assert len(received(api, box["id"])) == 1
    with Sim(db_path=db) as second:
        second.route_outbound()
        again = second.api(created["api_key"])
        again.advance(3600)
        assert [r["response_status"] for r in received(again, box["id"])] == [500, 500, 200]
        assert records(again, wh["id"])[0]["delivered_at"] is not None
