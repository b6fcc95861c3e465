"""A long clock move can be stopped: it ends after its current job and says so."""

from __future__ import annotations

import threading
from typing import Any

from flowkit import CERNER, new_session
from werkzeug.test import Client

from simulator.testing import Api, Sim


def test_cancel_stops_a_running_advance_where_it_got_to(sim: Sim) -> None:
    api, _ = sim.new_workspace()
    api.post("/patients", {"patient_id": "p1"})
    session = new_session(api)
    api.connect(session["id"], source=CERNER)  # 570 s tokens: a refresh every 285 s
    start = api.now()
    other = Api(Client(sim.wsgi), api.api_key)  # a second caller, its own client
    answer: dict[str, Any] = {}

    def advance() -> None:
        answer.update(other.post("/_sim/clock/advance", {"seconds": 30 * 86400}).json)

    worker = threading.Thread(target=advance)
    worker.start()
    while api.now() == start:  # the move is under way (the clock moves job by job)
        assert worker.is_alive(), answer
    assert api.post("/_sim/clock/cancel").json == {"cancelled": True}
    worker.join(timeout=120)
    assert answer["cancelled"] is True
    assert 0 < answer["jobs_run"] < 9000  # a full 30 days is about 9,100 refreshes
    assert answer["now"] == api.now() < "2099"  # the clock stays at the last job run
    # nothing is running now; the next move runs normally and to its end
    assert api.post("/_sim/clock/cancel").json == {"cancelled": False}
    done = api.post("/_sim/clock/advance", {"seconds": 600}).json
    assert "cancelled" not in done and done["jobs_run"] >= 2


def test_cancel_belongs_to_its_workspace(sim: Sim) -> None:
    one, _ = sim.new_workspace()
    assert one.post("/_sim/clock/cancel").json == {"cancelled": False}
    assert sim.runtime.scheduler.stop_move("ws_other") is False
