"""Advances of one workspace made at the same moment by several threads do not interleave.

Each request's manual clock is pinned when its API key is looked up; an advance
reads the clock again once it holds the workspace's lock, so a move another
thread made meanwhile is not lost.
"""

from __future__ import annotations

import threading

from werkzeug.test import Client

from simulator.core.timeutil import parse_iso
from simulator.testing import Sim


def test_concurrent_advances_add_up(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=1, clock="manual")
    before = parse_iso(api.get("/_sim/clock").json["now"])
    headers = {"Authorization": f"Bearer {api.api_key}"}
    failures: list[object] = []
    start = threading.Barrier(4)

    def advance_many() -> None:
        client = Client(sim.wsgi)
        start.wait()
        for _ in range(15):
            resp = client.post("/_sim/clock/advance", json={"seconds": 60}, headers=headers)
            if resp.status_code != 200:
                failures.append(resp.get_data(as_text=True))

    threads = [threading.Thread(target=advance_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert parse_iso(api.get("/_sim/clock").json["now"]) == before + 4 * 15 * 60_000
