"""`POST /_sim/clock/step`: the clock moves job by job (what `eventually` is built on)."""

from __future__ import annotations

from simulator.core.timeutil import iso, parse_iso
from simulator.testing import Api


def _plus(instant: str, seconds: float) -> str:
    return iso(parse_iso(instant) + int(seconds * 1000))


def test_step_moves_to_the_next_due_job_and_reports_the_one_after(api: Api) -> None:
    start = api.now()
    session = api.post(
        "/patient-sessions", {"patient_id": "p1", "return_url": "https://app.example/done"}
    ).json
    first = api.post("/_sim/clock/step").json
    assert first["jobs_run"] >= 1
    assert first["now"] == session["expires_at"] == _plus(start, 1800)
    assert api.get(f"/patient-sessions/{session['id']}").json["status"] == "expired"


def test_step_stops_at_max_seconds_when_no_job_is_due_sooner(api: Api) -> None:
    start = api.now()
    api.post("/patient-sessions", {"patient_id": "p1", "return_url": "https://app.example/done"})
    short = api.post("/_sim/clock/step", {"max_seconds": 60}).json
    assert short["jobs_run"] == 0 and short["now"] == _plus(start, 60)
    assert short["next_due_at"] == _plus(start, 1800)


def test_step_with_nothing_pending_moves_by_the_limit(api: Api) -> None:
    start = api.now()
    result = api.post("/_sim/clock/step", {"max_seconds": 10}).json
    assert result == {"now": _plus(start, 10), "mode": "manual", "jobs_run": 0, "next_due_at": None}
    assert api.post("/_sim/clock/step", {"max_seconds": -1}).status_code == 400
