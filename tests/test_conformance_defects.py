"""The suite can fail: each defect planted in the simulator is caught by the check named for it.

A defect is a pytest `monkeypatch` of a simulator function (or of the composition
table the in-process target is built from), applied before a fresh target is
made; the product code has no switch for any of them. Each case also shows the
check passing on the simulator as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from conformance import registry
from conformance.results import Outcome, Result
from conformance.runner import run
from conformance.target import in_process_target
from simulator import compose
from simulator.core import webkit
from simulator.core.timeutil import HOUR, MINUTE
from simulator.domain import attempts, connections, records, sessions
from simulator.domain.webhooks import deliveries, endpoints, publish

Patch = Callable[[pytest.MonkeyPatch], None]


def _job_handler(mp: pytest.MonkeyPatch, kind: str, handler: Any) -> None:
    table = tuple((k, handler if k == kind else h) for k, h in compose.JOB_HANDLERS)
    mp.setattr(compose, "JOB_HANDLERS", table)


def sessions_never_expire(mp: pytest.MonkeyPatch) -> None:
    _job_handler(mp, sessions.EXPIRE_JOB, lambda rt, job: None)


def expiry_one_second_late(mp: pytest.MonkeyPatch) -> None:
    original = sessions.expire_job

    def late(rt: Any, job: Any) -> None:
        if job.payload.get("late"):
            original(rt, job)
            return
        payload = {**job.payload, "late": True}
        rt.scheduler.schedule(
            job.workspace_id, sessions.EXPIRE_JOB, job.due_ms + 1000, payload, key=job.key
        )

    _job_handler(mp, sessions.EXPIRE_JOB, late)


def failed_attempt_gets_an_id(mp: pytest.MonkeyPatch) -> None:
    original = connections.session_item

    def with_id(conn: Any) -> dict[str, Any]:
        item = original(conn)
        if item["status"] == "failed" and item["id"] is None:
            item["id"] = "conn_01FAILEDATTEMPTGOTANID0000"
        return item

    mp.setattr(connections, "session_item", with_id)


def completion_webhook_twice(mp: pytest.MonkeyPatch) -> None:
    original = publish.emit

    def twice(rt: Any, ws_id: str, event_type: str, data_object: dict[str, Any]) -> str:
        occurrence = original(rt, ws_id, event_type, data_object)
        if event_type == "patient_session.completed":
            original(rt, ws_id, event_type, data_object)
        return occurrence

    mp.setattr(publish, "emit", twice)


def refresh_failure_without_webhook(mp: pytest.MonkeyPatch) -> None:
    original = publish.emit

    def quiet(rt: Any, ws_id: str, event_type: str, data_object: dict[str, Any]) -> str:
        if event_type == "connection.token_refresh_failed":
            return "occ_dropped"
        return original(rt, ws_id, event_type, data_object)

    mp.setattr(publish, "emit", quiet)


def retry_schedule_off_by_one_step(mp: pytest.MonkeyPatch) -> None:
    shifted = (0, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 12 * HOUR, 24 * HOUR, 24 * HOUR, 24 * HOUR)
    mp.setattr(deliveries, "SCHEDULE_MS", (*shifted, 24 * HOUR))


def endpoint_never_disabled(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(deliveries, "disable", lambda rt, ws_id, endpoint_id: None)


def signature_over_reserialised_json(mp: pytest.MonkeyPatch) -> None:
    original = deliveries.signature_header

    def resigned(body: bytes, secrets: list[str], timestamp: int) -> str:
        return original(json.dumps(json.loads(body), sort_keys=True), secrets, timestamp)

    mp.setattr(deliveries, "signature_header", resigned)


def secret_on_retrieve(mp: pytest.MonkeyPatch) -> None:
    original = endpoints.render
    mp.setattr(
        endpoints,
        "render",
        lambda endpoint, secret=None: original(endpoint, secret or endpoint.secret),
    )


def records_cursor_skips_one(mp: pytest.MonkeyPatch) -> None:
    original = records._read_cursor

    def skipping(rt: Any, ws_id: str, patient_id: str, sig: str, cursor: str, param: str) -> int:
        seq = original(rt, ws_id, patient_id, sig, cursor, param)
        return seq + 1 if param == "starting_after" else seq

    mp.setattr(records, "_read_cursor", skipping)


def token_in_patient_detail(mp: pytest.MonkeyPatch) -> None:
    original = connections.patient_item

    def leaky(conn: Any) -> dict[str, Any]:
        return {**original(conn), "access_token": "eyJhbGciOiJSUzI1NiJ9.leaked.token"}

    mp.setattr(connections, "patient_item", leaky)


def failed_connection_becomes_active(mp: pytest.MonkeyPatch) -> None:
    def revive(rt: Any, ws_id: str, conn: Any) -> None:
        rt.store.execute(
            "UPDATE connections SET status = 'active' WHERE workspace_id = ? AND patient_id = ?"
            " AND source_id = ? AND status = 'failed'",
            (ws_id, conn.patient_id, conn.source_id),
        )

    mp.setattr(compose, "SUBSCRIBERS", (*compose.SUBSCRIBERS, (attempts.ACTIVATED, revive)))


def request_id_missing_on_success(mp: pytest.MonkeyPatch) -> None:
    original = webkit.run_work_due_now

    def drop(resp: Any) -> None:
        if resp.status_code < 400:
            del resp.headers["X-Request-Id"]
        original(resp)

    mp.setattr(webkit, "run_work_due_now", drop)


def wrong_not_found_code(mp: pytest.MonkeyPatch) -> None:
    original = webkit.envelope

    def renamed(**fields: Any) -> dict[str, Any]:
        if fields["code"] == "resource_not_found":
            fields["code"] = "not_found"
        return original(**fields)

    mp.setattr(webkit, "envelope", renamed)


def redeliver_without_retry_after(mp: pytest.MonkeyPatch) -> None:
    original = deliveries.redeliver

    def bare(rt: Any, ws_id: str, delivery_id: str) -> dict[str, Any]:
        try:
            return original(rt, ws_id, delivery_id)
        except deliveries.ApiError as err:
            err.headers.pop("Retry-After", None)
            raise

    mp.setattr(deliveries, "redeliver", bare)


def signed_with_virtual_time(mp: pytest.MonkeyPatch) -> None:
    from simulator.domain.webhooks import chaos

    mp.setattr(chaos, "signing_time", lambda rt, ws_id, endpoint: rt.now(ws_id) // 1000)


DEFECTS: list[tuple[str, Patch, str]] = [
    ("sessions-never-expire", sessions_never_expire, "SESS-011"),
    ("expiry-one-second-late", expiry_one_second_late, "SESS-011"),
    ("failed-attempt-gets-conn-id", failed_attempt_gets_an_id, "CONN-002"),
    ("completion-webhook-sent-twice", completion_webhook_twice, "WH-010"),
    ("refresh-failure-without-webhook", refresh_failure_without_webhook, "WH-011"),
    ("retry-schedule-off-by-one-step", retry_schedule_off_by_one_step, "WH-017"),
    ("endpoint-never-disabled", endpoint_never_disabled, "WH-018"),
    ("signature-over-reserialised-json", signature_over_reserialised_json, "WH-014"),
    ("secret-returned-on-retrieve", secret_on_retrieve, "WH-002"),
    ("records-cursor-skips-a-record", records_cursor_skips_one, "REC-003"),
    ("token-in-patient-detail", token_in_patient_detail, "CONN-014"),
    ("failed-connection-becomes-active", failed_connection_becomes_active, "CONN-008"),
    ("request-id-missing-on-success", request_id_missing_on_success, "VER-001"),
    ("wrong-not-found-code", wrong_not_found_code, "ERR-003"),
    ("redeliver-429-without-retry-after", redeliver_without_retry_after, "WH-021"),
    ("signed-with-virtual-time", signed_with_virtual_time, "WH-015"),
]


def _run(check_id: str) -> Result:
    (result,) = run(registry.select(registry.collect(), [check_id]), in_process_target())
    return result


@pytest.fixture(scope="module")
def clean() -> dict[str, Result]:
    """Every named check against the simulator as it is."""
    names = sorted({check_id for _, _, check_id in DEFECTS})
    picked = registry.select(registry.collect(), names)
    return {r.id: r for r in run(picked, in_process_target())}


@pytest.mark.parametrize(
    ("defect", "patch", "check_id"), DEFECTS, ids=[defect for defect, _, _ in DEFECTS]
)
def test_the_named_check_catches_the_defect(
    defect: str,
    patch: Patch,
    check_id: str,
    clean: dict[str, Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert clean[check_id].outcome is Outcome.PASS, clean[check_id].message
    patch(monkeypatch)
    caught = _run(check_id)
    assert caught.outcome is Outcome.FAIL, (defect, str(caught.outcome), caught.message)
    assert caught.message and "Traceback" not in caught.message


def test_at_least_ten_defects_over_several_areas() -> None:
    assert len({defect for defect, _, _ in DEFECTS}) >= 10
    areas = {check_id.partition("-")[0] for _, _, check_id in DEFECTS}
    assert {"SESS", "CONN", "WH", "REC", "VER", "ERR"} <= areas
