"""Firing events on demand for existing objects, and emit() as other modules call it."""

from __future__ import annotations

import json

from webhooks_support import fire_sync_failed, inbox_endpoint, received, source_id

from simulator.domain.webhooks.publish import emit
from simulator.testing import Api, Sim


def new_session(api: Api, path: str = "/patient-sessions") -> dict:
    resp = api.post(path, {"patient_id": "p-fire", "return_url": "https://app.example/done"})
    assert resp.status_code == 200, resp.json
    return resp.json


def add_connection(sim: Sim, api: Api, status: str = "refresh_failed") -> tuple[str, str]:
    """An authorized link of patient p-fire, stored as the patient flow stores one."""
    rt = sim.runtime
    ws = api.get("/_sim/workspace").json["id"]
    session = new_session(api)
    now = rt.now(ws)
    with rt.store.tx():
        conn_id, seq = rt.new_id(ws, "conn_")
        rt.store.execute(
            "INSERT INTO connections (workspace_id, attempt_id, id, seq, patient_id, session_id,"
            " source_id, status, failure_code, failure_ms, created_ms, updated_ms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ws,
                f"att_{seq}",
                conn_id,
                seq,
                "p-fire",
                session["id"],
                source_id(api),
                status,
                "invalid_grant",
                now,
                now,
                now,
            ),
        )
    return conn_id, session["id"]


def test_fire_session_completed_carries_the_full_session(api: Api) -> None:
    box, _ = inbox_endpoint(api)
    session = new_session(api)
    fired = api.post(
        "/_sim/events", {"type": "patient_session.completed", "object_id": session["id"]}
    )
    assert fired.status_code == 200
    assert fired.json["id"].startswith("occ_")
    current = api.get(f"/patient-sessions/{session['id']}").json
    assert fired.json["data"]["object"] == current
    (got,) = received(api, box["id"])
    assert json.loads(got["body"])["data"]["object"] == current


def test_fire_token_refresh_failed_for_a_connection(sim: Sim, api: Api) -> None:
    conn_id, session_id = add_connection(sim, api)
    fired = api.post(
        "/_sim/events", {"type": "connection.token_refresh_failed", "object_id": conn_id}
    ).json
    item = fired["data"]["object"]
    assert item["id"] == conn_id
    assert item["connection_id"] == source_id(api)
    assert item["status"] == "refresh_failed" and item["failure_code"] == "invalid_grant"
    assert set(item) == {
        "id",
        "connection_id",
        "status",
        "failure_code",
        "failure_at",
        "created_at",
    }
    session = api.get(f"/patient-sessions/{session_id}").json
    assert item in session["connections"]


def test_fire_records_sync_from_a_connection_or_a_pair(sim: Sim, api: Api) -> None:
    conn_id, _ = add_connection(sim, api, status="active")
    done = api.post("/_sim/events", {"type": "records.sync.completed", "object_id": conn_id}).json
    assert done["data"]["object"] == {
        "resource_type": "records_sync",
        "patient_id": "p-fire",
        "connection_id": source_id(api),
        "total": 0,
        "errors": [],
        "duration_ms": 0,
    }
    failed = api.post(
        "/_sim/events",
        {
            "type": "records.sync.failed",
            "patient_id": "p-fire",
            "connection_id": source_id(api),
            "data": {"error_message": "EHR said no"},
        },
    ).json
    assert failed["data"]["object"]["error_message"] == "EHR said no"
    assert failed["data"]["object"]["patient_id"] == "p-fire"


def test_fire_errors(api: Api) -> None:
    def fire(body: dict) -> tuple[int, str | None]:
        resp = api.post("/_sim/events", body)
        return resp.status_code, resp.json["error"]["param"] if resp.status_code >= 400 else None

    assert fire({"type": "nope"}) == (400, "type")
    assert fire({"type": "patient_session.completed"}) == (400, "object_id")
    assert fire({"type": "patient_session.completed", "object_id": "ps_missing"})[0] == 404
    assert fire({"type": "connection.token_refresh_failed", "object_id": "conn_x"}) == (
        404,
        "object_id",
    )
    assert fire({"type": "records.sync.failed"}) == (400, "object_id")
    assert (
        fire(
            {"type": "records.sync.failed", "patient_id": "nobody", "connection_id": source_id(api)}
        )[0]
        == 404
    )
    api.post("/patients", {"patient_id": "p-real"})
    assert fire(
        {"type": "records.sync.failed", "patient_id": "p-real", "connection_id": "fhirsrc_nope"}
    ) == (404, "connection_id")
    assert api.get("/_sim/events").json["data"] == []


def test_emit_inside_a_rolled_back_transaction_leaves_nothing(sim: Sim, api: Api) -> None:
    box, _ = inbox_endpoint(api)
    rt = sim.runtime
    ws = api.get("/_sim/workspace").json["id"]
    try:
        with rt.store.tx():
            emit(rt, ws, "records.sync.completed", {"resource_type": "records_sync"})
            raise RuntimeError("the caller fails after emitting")
    except RuntimeError:
        pass
    assert api.get("/_sim/events").json["data"] == []
    rt.scheduler.run_due(ws)
    assert received(api, box["id"]) == []


def test_emit_schedules_without_sending_until_jobs_run(sim: Sim, api: Api) -> None:
    box, _ = inbox_endpoint(api)
    rt = sim.runtime
    ws = api.get("/_sim/workspace").json["id"]
    occ_id = emit(rt, ws, "records.sync.completed", {"resource_type": "records_sync"})
    assert occ_id.startswith("occ_")
    assert received(api, box["id"]) == []  # emit never does HTTP itself
    rt.scheduler.run_due(ws)
    assert len(received(api, box["id"])) == 1


def test_fired_events_are_isolated_per_workspace(sim: Sim, api: Api) -> None:
    fire_sync_failed(api)
    other, _ = sim.new_workspace(seed=3)
    assert other.get("/_sim/events").json["data"] == []
    assert len(api.get("/_sim/events").json["data"]) == 1


def test_completing_a_session_emits_and_delivers(api: Api) -> None:
    box, wh = inbox_endpoint(api)
    session = new_session(api)
    done = api.post(f"/_sim/patient-sessions/{session['id']}/done")
    assert done.status_code == 200, done.json
    (event,) = api.get("/_sim/events", type="patient_session.completed").json["data"]
    assert event["data"]["object"]["id"] == session["id"]
    assert event["data"]["object"]["status"] == "complete"
    (got,) = received(api, box["id"])
    envelope = json.loads(got["body"])
    assert envelope["id"] == event["deliveries"][0]["id"]
    assert envelope["type"] == "patient_session.completed"
    assert got["signature"]["valid"] is True
