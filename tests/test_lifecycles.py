"""The eight lifecycles: their edges, the owners refusing other moves, the enums built from them."""

from __future__ import annotations

from typing import Any

import pytest
from flowkit import EPIC, active_connection, connect, events_of, new_session
from statemachine import StateMachine
from webhooks_support import fire_sync_failed, inbox_endpoint, records

from portal_mocks import grants
from portal_mocks.grants import GrantLifecycle
from simulator.core.errors import ApiError
from simulator.core.jobs import JobLifecycle
from simulator.core.lifecycle import TransitionNotAllowed, edge, event_to, states, transition
from simulator.domain import attempts, connections, pulls, sessions
from simulator.domain.connections import ConnectionLifecycle
from simulator.domain.launch_contexts import LaunchContextLifecycle
from simulator.domain.operations import OperationLifecycle
from simulator.domain.pulls import PullLifecycle
from simulator.domain.sessions import SessionLifecycle
from simulator.domain.webhooks import deliveries, endpoints
from simulator.domain.webhooks.deliveries import DeliveryLifecycle
from simulator.domain.webhooks.endpoints import EndpointLifecycle
from simulator.testing import Api, Sim

DAY = 86400

EDGES: dict[type[StateMachine], dict[tuple[str, str], str]] = {
    SessionLifecycle: {
        ("open", "finish"): "complete",
        ("open", "expire"): "expired",
    },
    ConnectionLifecycle: {
        ("pending", "activate"): "active",
        ("pending", "fail"): "failed",
        ("pending", "abandon"): "expired",
        ("active", "refresh_fail"): "refresh_failed",
        ("active", "lapse"): "expired",
        ("active", "disconnect"): "disconnected",
        ("refresh_failed", "disconnect"): "disconnected",
        ("expired", "disconnect"): "disconnected",
    },
    PullLifecycle: {
        ("scheduled", "begin"): "running",
        ("running", "complete"): "completed",
        ("running", "fail"): "failed",
        ("running", "cancel"): "cancelled",
        ("cancelled", "fail"): "failed",
    },
    DeliveryLifecycle: {
        ("pending", "hold"): "held",
        ("pending", "deliver"): "delivered",
        ("held", "deliver"): "delivered",
        ("exhausted", "deliver"): "delivered",
        ("stopped", "deliver"): "delivered",
        ("delivered", "deliver"): "delivered",
        ("pending", "exhaust"): "exhausted",
        ("pending", "stop"): "stopped",
    },
    EndpointLifecycle: {
        ("active", "disable"): "disabled",
        ("disabled", "enable"): "active",
    },
    GrantLifecycle: {
        ("login", "sign_in"): "consent",
        ("consent", "approve"): "code",
        ("consent", "deny"): "denied",
        ("consent", "fail"): "failed",
        ("code", "activate"): "active",
        ("code", "revoke"): "revoked",
        ("active", "revoke"): "revoked",
    },
    LaunchContextLifecycle: {
        ("pending", "exchange"): "ready",
    },
    OperationLifecycle: {
        ("running", "succeed"): "succeeded",
        ("running", "cancel"): "cancelled",
        ("running", "fail"): "failed",
    },
    JobLifecycle: {
        ("pending", "claim"): "running",
        ("running", "finish"): "done",
        ("running", "fail"): "failed",
        ("pending", "cancel"): "cancelled",
        ("running", "recover"): "pending",
    },
}
MACHINES = list(EDGES)


def _events(machine: type[StateMachine]) -> list[str]:
    return [str(event.id) for event in machine.events]


def _allowed(machine: type[StateMachine]) -> dict[tuple[str, str], str]:
    found = {}
    for state in states(machine):
        for event in _events(machine):
            try:
                found[(state, event)] = transition(machine, state, event)
            except TransitionNotAllowed:
                pass
    return found


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_allowed_edges(machine: type[StateMachine]) -> None:
    assert _allowed(machine) == EDGES[machine]


@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: m.__name__)
def test_every_move_agrees_with_python_statemachine(machine: type[StateMachine]) -> None:
    for state in states(machine):
        for event in _events(machine):
            sm = machine(start_value=state)
            try:
                sm.send(event)
            except TransitionNotAllowed:
                with pytest.raises(TransitionNotAllowed):
                    transition(machine, state, event)
            else:
                assert transition(machine, state, event) == sm.current_state_value


def test_bulk_edges_and_target_events() -> None:
    cancel = edge(JobLifecycle, "cancel")
    assert (cancel.sources, cancel.target) == (("pending",), "cancelled")
    assert cancel.where("state") == "state = ?"
    deliver = edge(DeliveryLifecycle, "deliver")
    assert deliver.sources == ("pending", "held", "delivered", "exhausted", "stopped")
    assert deliver.where("state") == "state IN (?, ?, ?, ?, ?)"
    assert event_to(EndpointLifecycle, "disabled", "active") == "enable"
    with pytest.raises(TransitionNotAllowed):
        event_to(EndpointLifecycle, "active", "active")


# -- the owners refuse a move their machine does not have -------------------------------------


@pytest.fixture
def ws(sim: Sim) -> tuple[Api, str]:
    client, created = sim.new_workspace(seed=1, clock="manual")
    return client, created["id"]


def test_a_complete_session_cannot_expire(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    session = new_session(api)
    row = sessions.set_status(sim.runtime, ws_id, session["id"], "finish")
    assert row.status == "complete"
    with pytest.raises(ApiError) as caught:
        sessions.set_status(sim.runtime, ws_id, session["id"], "expire")
    assert caught.value.code == "resource_conflict"
    assert api.get(f"/patient-sessions/{session['id']}").json["status"] == "complete"


def test_a_failed_connection_cannot_become_active(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    session = new_session(api)
    assert connect(api, session["id"], consent="deny")["connection"]["status"] == "failed"
    rt = sim.runtime
    attempt_id = rt.store.scalar(
        "SELECT attempt_id FROM connections WHERE workspace_id = ?", (ws_id,)
    )
    with pytest.raises(TransitionNotAllowed):
        attempts.move(rt, ws_id, attempt_id, "activate")
    assert connections.by_attempt(rt.store, ws_id, attempt_id).status == "failed"


def test_a_completed_pull_cannot_be_cancelled(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    conn = active_connection(api)
    rt = sim.runtime
    attempt_id = rt.store.scalar("SELECT attempt_id FROM connections WHERE id = ?", (conn["id"],))
    pull = pulls.last_pull(rt, ws_id, attempt_id)
    assert pull.status == "completed"
    with pytest.raises(TransitionNotAllowed):
        pulls.move(rt, ws_id, pull.pull_id, "cancel")
    assert pulls.last_pull(rt, ws_id, attempt_id).status == "completed"


def test_a_pull_whose_own_refresh_is_refused_ends_failed(sim: Sim, ws: tuple[Api, str]) -> None:
    """The access-lost hook cancels the running pull; the pull then records its failure."""
    api, _ = ws
    sim.runtime.config.refresh_policy = "on_demand"
    conn = active_connection(api, "alice+refresh_revoked", EPIC)
    api.advance(DAY)
    view = api.get(f"/_sim/connections/{conn['id']}").json
    assert view["status"] == "refresh_failed"
    assert view["last_pull"]["status"] == "failed"
    assert view["last_pull"]["error_message"] == (
        "Access to the portal was lost: the token refresh failed"
    )
    assert len(events_of(api, "records.sync.failed")) == 1


def _delivery_state(sim: Sim, ws_id: str, delivery_id: str) -> str:
    return deliveries.get_row(sim.runtime.store, ws_id, delivery_id).state


def test_a_delivered_delivery_cannot_go_back(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    _, hook = inbox_endpoint(api)
    fire_sync_failed(api)
    (record,) = records(api, hook["id"])
    assert _delivery_state(sim, ws_id, record["id"]) == "delivered"
    assert all(target != "pending" for target in EDGES[DeliveryLifecycle].values())
    for event in ("exhaust", "stop", "hold"):
        with pytest.raises(TransitionNotAllowed):
            deliveries.move(sim.runtime, ws_id, record["id"], event)
    assert _delivery_state(sim, ws_id, record["id"]) == "delivered"


def test_an_event_for_a_disabled_endpoint_is_held(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    _, hook = inbox_endpoint(api)
    assert api.patch(f"/webhooks/{hook['id']}", {"status": "disabled"}).status_code == 200
    fire_sync_failed(api)
    (record,) = records(api, hook["id"])
    assert _delivery_state(sim, ws_id, record["id"]) == "held"


def test_an_endpoint_moves_only_between_active_and_disabled(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    _, hook = inbox_endpoint(api)
    with pytest.raises(TransitionNotAllowed):
        endpoints.set_status(sim.runtime, ws_id, hook["id"], "enable")
    for _ in range(2):  # asking for the state it is in changes nothing
        resp = api.patch(f"/webhooks/{hook['id']}", {"status": "disabled"})
        assert resp.status_code == 200 and resp.json["status"] == "disabled"
    with pytest.raises(TransitionNotAllowed):
        endpoints.set_status(sim.runtime, ws_id, hook["id"], "disable")
    assert api.patch(f"/webhooks/{hook['id']}", {"status": "active"}).json["status"] == "active"


def test_a_revoked_grant_cannot_be_reactivated(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    conn = active_connection(api)
    assert api.post(f"/_sim/connections/{conn['id']}/refresh-failure").status_code == 200
    rt = sim.runtime
    (grant,) = [g for g in grants.latest(rt, ws_id, rt.catalog.get(EPIC).slug) if g.code_used_ms]
    assert (grant.status, grant.revoked_reason) == ("revoked", "revoked_by_client")
    with pytest.raises(TransitionNotAllowed):
        grants.move(rt, grant, "activate")
    again = grants.revoke(rt, grant, "revoked_by_patient")
    assert (again.status, again.revoked_reason) == ("revoked", "revoked_by_client")


def _job_state(sim: Sim, job_id: int) -> str:
    return sim.runtime.store.scalar("SELECT state FROM jobs WHERE id = ?", (job_id,))


def _harmless_job(sim: Sim, ws_id: str, key: str) -> int:
    """A session-expiry job for a session that does not exist: it runs and does nothing."""
    due = sim.runtime.now(ws_id) + 10_000
    return sim.runtime.scheduler.schedule(
        ws_id, sessions.EXPIRE_JOB, due, {"session_id": "ps_none"}, key=key
    )


def test_a_cancelled_job_cannot_run_and_a_done_one_cannot_be_cancelled(
    sim: Sim, ws: tuple[Api, str]
) -> None:
    api, ws_id = ws
    scheduler = sim.runtime.scheduler
    cancelled = _harmless_job(sim, ws_id, "lifecycle:cancelled")
    ran = _harmless_job(sim, ws_id, "lifecycle:done")
    assert scheduler.cancel(ws_id, key="lifecycle:cancelled") == 1
    assert scheduler.cancel(ws_id, key="lifecycle:cancelled") == 0
    api.advance(20)
    assert (_job_state(sim, cancelled), _job_state(sim, ran)) == ("cancelled", "done")
    assert scheduler.cancel(ws_id, key="lifecycle:done") == 0
    assert _job_state(sim, ran) == "done"
    with pytest.raises(TransitionNotAllowed):
        transition(JobLifecycle, "cancelled", "claim")


def test_a_job_caught_running_is_pending_again(sim: Sim, ws: tuple[Api, str]) -> None:
    api, ws_id = ws
    job_id = _harmless_job(sim, ws_id, "lifecycle:crash")
    sim.runtime.store.execute(  # what a crash in the middle of the job leaves behind
        "UPDATE jobs SET state = ? WHERE id = ?",
        (transition(JobLifecycle, "pending", "claim"), job_id),
    )
    assert sim.runtime.scheduler.recover() == 1
    assert _job_state(sim, job_id) == "pending"
    api.advance(20)
    assert _job_state(sim, job_id) == "done"


# -- the API's enums are the machines' states -------------------------------------------------


def _enum(node: dict[str, Any]) -> list[str]:
    return node["properties"]["status"]["enum"]


def _param_enum(operation: dict[str, Any]) -> list[str]:
    (param,) = [p for p in operation["parameters"] if p.get("name") == "status"]
    return param["schema"]["enum"]


def _json_schema(operation_part: dict[str, Any]) -> dict[str, Any]:
    return operation_part["content"]["application/json"]["schema"]


def test_api_enums_are_the_machines_states(sim: Sim) -> None:
    doc = sim.client.get("/openapi.json").json
    schemas = doc["components"]["schemas"]
    shown = [s for s in states(ConnectionLifecycle) if s != ConnectionLifecycle.pending.value]
    assert shown == ["active", "failed", "expired", "refresh_failed", "disconnected"]
    assert _enum(schemas["PatientConnection"]) == shown
    assert _enum(schemas["PatientSessionConnection"]) == shown

    session = list(states(SessionLifecycle))
    assert _enum(schemas["PatientSession"]) == session
    assert _param_enum(doc["paths"]["/patients/{patient_id}/patient-sessions"]["get"]) == session

    endpoint = list(states(EndpointLifecycle))
    one = doc["paths"]["/webhooks/{id}"]
    assert _enum(_json_schema(one["get"]["responses"]["200"])) == endpoint
    assert _enum(_json_schema(one["patch"]["requestBody"])) == endpoint
    assert _param_enum(doc["paths"]["/webhooks"]["get"]) == endpoint


def test_status_filters_list_the_machines_states(api: Api) -> None:
    api.post("/patients", {"patient_id": "p1"})
    resp = api.get("/patients/p1/patient-sessions", status="done")
    assert resp.json["error"]["message"] == (
        "'status' must be one of 'open', 'complete', 'expired'"
    )
    resp = api.get("/webhooks", status="paused")
    assert resp.json["error"]["message"] == "'status' must be 'active' or 'disabled'"
