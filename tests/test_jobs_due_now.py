"""Work due now runs before a changing request answers, and costs nothing when there is none."""

from __future__ import annotations

from simulator.testing import Sim

KIND = "test.due_now"


def _workspace(sim: Sim):
    api, created = sim.new_workspace(seed=1, clock="manual")
    ran: list[int] = []
    sim.runtime.scheduler.register(KIND, lambda rt, job: ran.append(job.id))
    return api, created["id"], ran


def _statements(sim: Sim, call) -> list[str]:
    seen: list[str] = []
    sim.runtime.store.trace(seen.append)
    try:
        call()
    finally:
        sim.runtime.store.trace(None)
    return seen


def test_a_job_scheduled_for_now_runs_on_the_next_changing_request(sim: Sim) -> None:
    api, ws_id, ran = _workspace(sim)
    assert api.post("/patients", {"patient_id": "p1"}).status_code == 200  # nothing due
    now = sim.runtime.now(ws_id)
    job_id = sim.runtime.scheduler.schedule(ws_id, KIND, now)  # outside any request
    assert api.post("/patients", {"patient_id": "p2"}).status_code == 200
    assert ran == [job_id]
    later = sim.runtime.scheduler.schedule(ws_id, KIND, now + 1000)
    assert api.post("/patients", {"patient_id": "p3"}).status_code == 200
    assert ran == [job_id]  # not due yet: the clock has not moved
    api.advance(1)
    assert ran == [job_id, later]


def test_a_changing_request_that_made_nothing_due_does_not_look_for_jobs(sim: Sim) -> None:
    api, ws_id, ran = _workspace(sim)
    api.post("/patients", {"patient_id": "p1"})
    seen = _statements(sim, lambda: api.post("/patients", {"patient_id": "p2"}))
    assert seen and not any(s.startswith("UPDATE jobs") for s in seen), seen


def test_after_a_recovery_a_changing_request_looks_again(sim: Sim) -> None:
    api, ws_id, ran = _workspace(sim)
    api.post("/patients", {"patient_id": "p1"})
    sim.runtime.scheduler.recover()
    seen = _statements(sim, lambda: api.post("/patients", {"patient_id": "p2"}))
    assert any("FROM jobs" in s for s in seen)  # looked for due jobs (none)
    assert ran == []
