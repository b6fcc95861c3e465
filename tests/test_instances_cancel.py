"""A clock move is stopped by a cancel that reaches another instance of the same database.

Two runtimes in this process on one PostgreSQL schema are two instances: the
advance runs on the first, the cancel is asked of the second.
"""

from __future__ import annotations

import secrets
import threading
from typing import Any

from flowkit import CERNER, new_session
from instancekit import SERVER_URL, needs_postgres
from werkzeug.test import Client

from simulator.core.store_pg import create_schema, drop_schema
from simulator.testing import Api, Sim

pytestmark = needs_postgres


def test_a_cancel_on_one_instance_stops_the_advance_running_on_another() -> None:
    schema = "cancel_" + secrets.token_hex(5)
    url = create_schema(SERVER_URL, schema)
    first, second = Sim(db_path=url), Sim(db_path=url)
    try:
        first.route_outbound()
        api, _ = first.new_workspace()
        api.post("/patients", {"patient_id": "p1"})
        session = new_session(api)
        api.connect(session["id"], source=CERNER)  # 570 s tokens: a refresh every 285 s
        start = api.now()
        mover = Api(Client(first.wsgi), api.api_key)
        elsewhere = Api(second.client, api.api_key)  # the same workspace, another instance
        answer: dict[str, Any] = {}

        def advance() -> None:
            answer.update(mover.post("/_sim/clock/advance", {"seconds": 30 * 86400}).json)

        worker = threading.Thread(target=advance)
        worker.start()
        while elsewhere.now() == start:  # the move is under way, seen from the other one
            assert worker.is_alive(), answer
        assert elsewhere.post("/_sim/clock/cancel").json == {"cancelled": True}
        worker.join(timeout=120)
        assert answer["cancelled"] is True
        assert 0 < answer["jobs_run"] < 9000
        assert answer["now"] == elsewhere.now()
        assert elsewhere.post("/_sim/clock/cancel").json == {"cancelled": False}
        done = elsewhere.post("/_sim/clock/advance", {"seconds": 600}).json
        assert "cancelled" not in done and done["jobs_run"] >= 2
    finally:
        first.close()
        second.close()
        drop_schema(SERVER_URL, schema)


def test_a_cancel_for_a_move_whose_instance_died_answers_false() -> None:
    schema = "cancel_" + secrets.token_hex(5)
    url = create_schema(SERVER_URL, schema)
    sim = Sim(db_path=url)
    try:
        _, made = sim.new_workspace()
        ws_id = made["id"]
        sim.runtime.store.execute(  # what a killed instance's move leaves behind
            "INSERT INTO clock_moves (workspace_id, instance, stop) VALUES (?, 'gone:1:abc', 0)",
            (ws_id,),
        )
        assert sim.runtime.scheduler.stop_move(ws_id) is False
        assert (
            sim.runtime.store.one("SELECT 1 FROM clock_moves WHERE workspace_id = ?", (ws_id,))
            is None
        )
    finally:
        sim.close()
        drop_schema(SERVER_URL, schema)
