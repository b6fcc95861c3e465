"""One clock call does bounded work: it moves the clock at most 400 days."""

from __future__ import annotations

import pytest

from simulator.testing import Api, Sim

YEAR_S = 400 * 86400


@pytest.mark.parametrize(
    ("path", "field"),
    [("/_sim/clock/advance", "seconds"), ("/_sim/clock/run-until-idle", "max_seconds")],
)
def test_a_move_longer_than_400_days_is_refused_and_the_clock_stays(
    api: Api, path: str, field: str
) -> None:
    before = api.now()
    resp = api.post(path, {field: YEAR_S + 1})
    assert resp.status_code == 400
    assert resp.json["error"]["code"] == "invalid_data" and resp.json["error"]["param"] == field
    assert api.now() == before
    assert api.post(path, {field: YEAR_S}).status_code == 200


def test_set_is_bounded_the_same_way_while_jobs_are_pending(api: Api) -> None:
    body = {"patient_id": "p1", "return_url": "https://app.example/done", "expires_in": 3600}
    api.post("/patient-sessions", body)  # its expiry is a pending job
    before = api.now()
    resp = api.post("/_sim/clock/set", {"now": "2199-01-01T00:00:00Z"})
    assert resp.status_code == 400 and resp.json["error"]["param"] == "now"
    assert "400 days" in resp.json["error"]["message"]
    assert api.now() == before


def test_set_far_ahead_with_nothing_pending_is_one_cheap_move(sim: Sim) -> None:
    api, _ = sim.new_workspace()  # a fresh workspace: no jobs
    resp = api.post("/_sim/clock/set", {"now": "2199-01-01T00:00:00Z"})
    assert resp.status_code == 200 and resp.json["jobs_run"] == 0
    assert api.now().startswith("2199-01-01T00:00:00")
