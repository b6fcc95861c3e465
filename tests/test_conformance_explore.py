"""The exploration: passes on the simulator, repeats for a seed, and its parts judge rightly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from conformance.explore import explore
from conformance.explore.faults import predict, usable_faults
from conformance.explore.invariants import Checker
from conformance.explore.reproducer import (
    InvariantBroken,
    Recorder,
    duration,
    write_reproducer,
)
from conformance.explore.world import COMPLETED, REFRESH_FAILED, World
from conformance.http import Client
from conformance.model.delivery import attempt_time_ms
from conformance.model.timing import parse_ms
from conformance.results import Exchange, Outcome
from conformance.target import Target, in_process_target
from simulator.domain.webhooks import publish

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "scenarios" / "scenario.schema.json").read_text()
)
START = parse_ms("2030-01-01T00:00:00Z")


# -- whole runs ---------------------------------------------------------------------------


def test_the_exploration_passes_against_the_simulator() -> None:
    [result] = explore(in_process_target(), seed=3, examples=6, max_steps=15)
    assert result.outcome is Outcome.PASS, result.message
    assert (result.id, result.area, result.artifacts) == ("EXPL-001", "exploration", {})
    assert "6 example(s)" in result.message and "§3.1" in result.source


def test_a_seeded_run_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = publish.emit

    def twice(rt: Any, ws_id: str, event_type: str, data: dict[str, Any]) -> str:
        if event_type == COMPLETED:
            original(rt, ws_id, event_type, data)
        return original(rt, ws_id, event_type, data)

    monkeypatch.setattr(publish, "emit", twice)
    texts, messages = [], []
    for run in ("a", "b"):
        [result] = explore(
            in_process_target(), seed=5, examples=10, reproducer_dir=tmp_path / run, shrinks=0
        )
        assert result.outcome is Outcome.FAIL, result.message
        texts.append(Path(result.artifacts["reproducer"]).read_text())
        messages.append(result.message.replace(str(tmp_path / run), ""))
    assert texts[0] == texts[1] and messages[0] == messages[1]
    assert "2 patient_session.completed event(s)" in messages[0]


class _NoControlPlane:
    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Any:
        return 404, {"Content-Type": "application/json"}, b'{"error": {}}'


def test_a_target_without_the_control_plane_is_skipped() -> None:
    [result] = explore(Target("http://real.example", _NoControlPlane(), "mb_sk_sbx_x"))
    assert result.outcome is Outcome.SKIP and "/_sim" in result.message


# -- faults -------------------------------------------------------------------------------

CATALOG = {
    "data": [
        {"name": "deny", "site": "consent", "portals": "all"},
        {"name": "invalid_scope", "site": "authorize", "portals": "all"},
        {"name": "auth_invalid_client_id", "site": "authorize", "portals": "all"},
        {"name": "exchange_5xx", "site": "exchange", "portals": "all"},
        {"name": "exchange_timeout", "site": "exchange", "portals": "all"},
        {"name": "fhir_500", "site": "fhir", "portals": "all"},
        {"name": "refresh_revoked", "site": "refresh", "portals": "all"},
        {"name": "one_time", "site": "grant", "portals": ["bluebutton"]},
        {"name": "mystery", "site": "elsewhere", "portals": "all"},
    ]
}


def test_usable_faults_leave_out_slow_and_unknown_ones() -> None:
    faults = {f.name: f for f in usable_faults(CATALOG)}
    assert "exchange_timeout" not in faults and "mystery" not in faults
    assert faults["one_time"].applies_at("bluebutton")
    assert not faults["one_time"].applies_at("summit-epic")
    assert (
        faults["one_time"].lapse == "expired"
        and faults["refresh_revoked"].lapse == "refresh_failed"
    )
    assert faults["fhir_500"].lapse is None and not faults["fhir_500"].fails
    codes = {n: f.failure_code for n, f in faults.items() if f.fails}
    assert codes == {
        "deny": "access_denied",
        "invalid_scope": "invalid_scope",
        "auth_invalid_client_id": "?",
        "exchange_5xx": "token_exchange_failed",
    }


def test_the_first_fault_on_an_attempts_path_decides_it() -> None:
    faults = {f.name: f for f in usable_faults(CATALOG)}
    plain = predict("approve", None, None)
    assert (plain.status, plain.failure_code, plain.lapse) == ("active", None, None)
    assert predict("deny", None, None).failure_code == "access_denied"
    # a denial never reaches the code exchange: the portal's exchange fault stays pending
    denied = predict("deny", None, faults["exchange_5xx"])
    assert (denied.failure_code, denied.consumed) == ("access_denied", False)
    spent = predict("approve", None, faults["exchange_5xx"])
    assert (spent.status, spent.failure_code, spent.consumed) == (
        "failed",
        "token_exchange_failed",
        True,
    )
    # a consent fault turns an approval into a denial; a denial leaves it pending
    assert predict("deny", None, faults["deny"]).consumed is False
    assert predict("approve", None, faults["deny"]).consumed is True
    # an authorize fault chosen at login fires before a portal fault at consent
    early = predict("approve", faults["invalid_scope"], faults["deny"])
    assert (early.failure_code, early.consumed) == ("invalid_scope", False)
    # at the same site the login-chosen fault fires first and the portal's stays pending
    same = predict("approve", faults["exchange_5xx"], faults["exchange_5xx"])
    assert (same.failure_code, same.consumed) == ("token_exchange_failed", False)
    # at the authorize request the portal's fires before the login
    first = predict("approve", faults["auth_invalid_client_id"], faults["invalid_scope"])
    assert (first.failure_code, first.consumed) == ("invalid_scope", True)
    lapsing = predict("approve", faults["refresh_revoked"], faults["fhir_500"])
    assert (lapsing.status, lapsing.lapse, lapsing.consumed) == ("active", "refresh_failed", False)


# -- the world ----------------------------------------------------------------------------


def world() -> World:
    return World(now_ms=START, sources={"epic": "fhirsrc_E", "athena": "fhirsrc_A"})


def test_expiry_turns_attempts_at_the_portal_expired_in_the_order_made() -> None:
    w = world()
    session = w.create_session("s1", "p1", None, 60)
    w.abandon(w.start_attempt("a1", session, "athena"))
    w.settle(w.start_attempt("c2", session, "epic"), predict("approve", None, None))
    w.advance(59_999)
    assert session.status == "open" and [a.key for a in session.attempts] == ["c2"]
    w.advance(1)
    assert session.status == "expired"
    assert [(a.key, a.status) for a in session.attempts] == [("a1", "expired"), ("c2", "active")]
    assert w.expected_events() == {}


def test_a_new_link_to_the_same_source_disconnects_the_older_one() -> None:
    w = world()
    first, second = (w.create_session(k, "p1", None, None) for k in ("s1", "s2"))
    old = w.start_attempt("c1", first, "epic")
    w.settle(old, predict("approve", None, None))
    other = w.start_attempt("c2", second, "athena")
    w.settle(other, predict("approve", None, None))
    new = w.start_attempt("c3", second, "epic")
    w.settle(new, predict("approve", None, None))
    assert (old.status, other.status, new.status) == ("disconnected", "active", "active")


def test_events_the_model_expects() -> None:
    w = world()
    session = w.create_session("s1", "p1", None, None)
    session.id = "ps_1"
    conn = w.start_attempt("c1", session, "epic")
    w.settle(conn, predict("approve", None, None))
    conn.id = "conn_1"
    w.tick = 4
    w.finish(session)
    w.advance(1000)
    w.tick = 5
    w.refresh_rejected(conn, w.now_ms)
    assert w.expected_events() == {
        (COMPLETED, "ps_1"): (START, 4),
        (REFRESH_FAILED, "conn_1"): (START + 1000, 5),
    }


# -- the schedule judge -------------------------------------------------------------------


def auto(n: int, at: int, ok: bool) -> dict[str, Any]:
    return {"attempt": n, "attempted_at": at, "trigger": "automatic", "succeeded": ok}


def test_expected_automatic_attempts() -> None:
    due = Checker._expected_auto
    day = 86_400_000
    failing = [auto(n, 0, False) for n in range(1, 10)]
    assert due(0, failing, [], None, 0) == [0]
    assert due(0, failing, [], None, 60_000) == [0, 60_000]
    assert due(0, failing, [], None, 59_999) == [0]
    assert due(0, failing, [], None, 5 * day) == [attempt_time_ms(0, n) for n in range(1, 10)]
    # a 2xx at attempt 2 ends the schedule
    two = [auto(1, 0, False), auto(2, 60_000, True)]
    assert due(0, two, [], None, 5 * day) == [0, 60_000]
    # a manual 2xx before attempt 3 is due stops the automatic ones
    assert due(0, failing, [120_000], None, 5 * day) == [0, 60_000]
    # once the endpoint is disabled, later attempts are not made
    assert due(0, failing, [], 6 * 60_000, 5 * day) == [0, 60_000, 6 * 60_000]


# -- secrets ------------------------------------------------------------------------------


def exchange(path: str, body: str, method: str = "GET") -> Exchange:
    return Exchange(method, f"http://sim.test{path}", {}, None, 200, {}, body, 1.0)


@pytest.mark.parametrize(
    ("path", "body", "leak"),
    [
        ("/patients/p1", '{"access_token": "abc"}', "access_token"),
        ("/patient-sessions/ps_1", '{"url": "https://x/cb?code=xyz&state=1"}', "OAuth code"),
        ("/webhooks/wh_1", '{"secret": "[redacted]"}', "secret"),
    ],
)
def test_a_token_code_or_secret_in_a_response_breaks_the_invariant(
    path: str, body: str, leak: str
) -> None:
    client = Client(transport=None, base_url="http://sim.test")  # type: ignore[arg-type]
    client.exchanges.append(exchange(path, body))
    checker = Checker(client, world(), Recorder())
    with pytest.raises(InvariantBroken) as caught:
        checker._secrets()
    assert leak in caught.value.detail


def test_secrets_on_create_and_null_tokens_are_allowed() -> None:
    client = Client(transport=None, base_url="http://sim.test")  # type: ignore[arg-type]
    client.exchanges += [
        exchange("/webhooks", '{"secret": "[redacted]"}', "POST"),
        exchange("/_sim/connections/conn_1/refresh-failure", '{"access_token": null}', "POST"),
        exchange("/_sim/patient-sessions/ps_1/abandon", '{"location": "/a?code_challenge=x"}'),
    ]
    Checker(client, world(), Recorder())._secrets()


# -- reproducers --------------------------------------------------------------------------


def test_durations_use_the_largest_whole_unit() -> None:
    assert [duration(ms) for ms in (1, 1500, 60_000, 90_000, 7_200_000, 3 * 86_400_000)] == [
        "1ms",
        "1500ms",
        "1m",
        "90s",
        "2h",
        "3d",
    ]


def test_a_reproducer_is_a_valid_scenario_ending_with_the_expectation(tmp_path: Path) -> None:
    steps = [{"app": "create_session", "with": {"patient_id": "p1"}, "save": "s1"}]
    expectation = [{"expect": {"app": "get_session", "with": {"session_id": "${s1.id}"}}}]
    broken = InvariantBroken("session status equals the model's", "open", expectation, steps)
    path = write_reproducer(broken, seed=7, directory=tmp_path / "out", label="EXPL-001")
    assert path.parent == tmp_path / "out" and path.name.endswith(".scenario.yaml")
    document = yaml.safe_load(path.read_text())
    jsonschema.validate(document, SCHEMA)
    assert document["seed"] == 7 and document["steps"] == steps + expectation
    default = write_reproducer(broken, seed=7, directory=None, label="EXPL-001")
    assert default.exists() and default.parent != tmp_path / "out"
