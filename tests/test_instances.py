"""Three `serve` instances on one PostgreSQL database, driven round-robin through a balancer.

Every request goes to the next instance: the patient's browser, the OAuth
callback, the API calls and the clock advances. The checks read the database
itself: every job ran once, every webhook attempt happened at its scheduled
virtual instant and reached the receiver once, and two advances of one
workspace made at the same moment on two instances did not interleave.
A second test kills one instance with SIGKILL in the middle of an advance and
shows the others finish its work with nothing lost or made twice.
"""

from __future__ import annotations

import threading
import time
from itertools import accumulate
from pathlib import Path
from typing import Any

import requests
from flowkit import EPIC, RETURN_URL
from instancekit import Cluster, Http, needs_postgres

from simulator.clients import patient
from simulator.core.timeutil import iso, parse_iso
from simulator.domain.webhooks.deliveries import ATTEMPT_JOB, SCHEDULE_MS

pytestmark = needs_postgres

EVENT = "records.sync.failed"
# When attempt n (1-based) of a delivery is due, after the first: the retry schedule summed.
OFFSETS_MS = list(accumulate(SCHEDULE_MS))


def new_workspace(cluster: Cluster, clock: str = "manual", seed: int = 5) -> tuple[Http, str]:
    made = requests.post(
        cluster.lb.url + "/_sim/workspaces", json={"clock": clock, "seed": seed}, timeout=30
    ).json()
    return Http(cluster.lb.url, made["api_key"]), made["id"]


def failing_receiver(api: Http, **inbox: Any) -> dict[str, Any]:
    """An inbox that answers 500 (so every attempt is retried) and an endpoint on it."""
    box = api.post("/_sim/inboxes", {"status": 500, **inbox})
    api.post("/webhooks", {"url": box["url"], "events": [EVENT]})
    return box


def fire(api: Http, count: int) -> None:
    if api.http.get(api.base + "/patients/p1", timeout=30).status_code == 404:
        api.post("/patients", {"patient_id": "p1"})
    source = api.get("/connections", limit=1)["data"][0]["id"]
    for _ in range(count):
        api.post("/_sim/events", {"type": EVENT, "patient_id": "p1", "connection_id": source})


def now_ms(api: Http) -> int:
    return parse_iso(api.get("/_sim/clock")["now"])


def attempts_of(cluster: Cluster, ws_id: str) -> dict[str, list[tuple[int, int]]]:
    """Each delivery's automatic attempts as (number, attempted_ms), in the order made."""
    with cluster.db() as db:
        rows = db.execute(
            "SELECT delivery_id, number, attempted_ms FROM webhook_attempts"
            " WHERE workspace_id = %s AND trigger = 'automatic' ORDER BY seq",
            (ws_id,),
        ).fetchall()
    found: dict[str, list[tuple[int, int]]] = {}
    for delivery, number, at in rows:
        found.setdefault(delivery, []).append((number, at))
    return found


def received_of(cluster: Cluster, ws_id: str) -> list[tuple[str, int]]:
    """What the receiver got: (event id, virtual instant), in arrival order."""
    with cluster.db() as db:
        return [
            (row[0], row[1])
            for row in db.execute(
                "SELECT event_id, received_ms FROM webhook_inbox_requests"
                " WHERE workspace_id = %s ORDER BY seq",
                (ws_id,),
            )
        ]


def job_states(cluster: Cluster, ws_id: str, kind: str) -> dict[str, int]:
    with cluster.db() as db:
        return dict(
            db.execute(
                "SELECT state, count(*) FROM jobs WHERE workspace_id = %s AND kind = %s"
                " GROUP BY state",
                (ws_id, kind),
            ).fetchall()
        )


def assert_on_schedule(attempts: dict[str, list[tuple[int, int]]], start: int, made: int) -> None:
    """Each delivery made attempts 1..`made`, each once, each at its scheduled instant."""
    for delivery, made_ones in attempts.items():
        assert made_ones == [(n + 1, start + OFFSETS_MS[n]) for n in range(made)], delivery


def test_three_instances_round_robin_flows_clock_and_webhook_retries(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, count=3)
    try:
        with cluster.db() as db:  # three instances started together: one default workspace
            defaults = db.execute("SELECT count(*) FROM workspaces WHERE is_default = 1")
            assert defaults.fetchone()[0] == 1
        api, ws_id = new_workspace(cluster)

        # A complete Picker flow: the patient's browser hops instance to instance.
        api.post("/patients", {"patient_id": "p1"})
        session = api.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
        browser = requests.Session()
        browser.trust_env = False
        result = patient.connect(session["url"], source_id=EPIC, username="alice", session=browser)
        assert result.stopped_at == "completion", result.trail
        hops = len(result.trail)
        assert hops >= 6  # the link, the Picker, the portal's login and consent, the callback
        conn = api.get("/patients/p1")["connections"][0]
        assert conn["status"] == "active"
        assert job_states(cluster, ws_id, "records.pull") == {"done": 1, "pending": 1}  # re-pull

        # Webhook retries on the virtual clock, one advance per request, round-robin.
        box = failing_receiver(api)
        fire(api, 4)
        start = now_ms(api)
        for _ in range(37):  # 37 one-minute steps: attempts 2, 3 and 4 of each delivery
            api.post("/_sim/clock/advance", {"seconds": 60})
        for _ in range(14):  # then hours: attempts 5 (2 h 36 min) and 6 (14 h 36 min)
            api.post("/_sim/clock/advance", {"seconds": 3600})
        attempts = attempts_of(cluster, ws_id)
        assert len(attempts) == 4
        assert_on_schedule(attempts, start, made=6)
        received = received_of(cluster, ws_id)
        assert len(received) == 4 * 6  # each attempt reached the receiver once
        assert sorted(at for _, at in received) == sorted(
            at for made in attempts.values() for _, at in made
        )
        assert api.get(f"/_sim/inboxes/{box['id']}")["received_count"] == 24

        # Two advances of one workspace at the same moment, on two instances: serialised.
        before = now_ms(api)
        errors: list[BaseException] = []

        def advance_ten_times() -> None:
            try:
                mover = Http(cluster.lb.url, api.http.headers["Authorization"].split()[1])
                for _ in range(10):
                    mover.post("/_sim/clock/advance", {"seconds": 3 * 3600})
            except BaseException as exc:  # reported below
                errors.append(exc)

        movers = [threading.Thread(target=advance_ten_times) for _ in range(2)]
        for mover in movers:
            mover.start()
        for mover in movers:
            mover.join(timeout=120)
        assert errors == []
        assert now_ms(api) == before + 20 * 3 * 3600 * 1000  # no advance lost to another
        assert_on_schedule(attempts_of(cluster, ws_id), start, made=8)  # 8th at 62 h 36 min
        assert len(received_of(cluster, ws_id)) == 4 * 8

        # Every timed job of the workspace ran once: none left running, none failed, and no
        # (kind, key, due time) ran twice.
        with cluster.db() as db:
            states = dict(
                db.execute(
                    "SELECT state, count(*) FROM jobs WHERE workspace_id = %s GROUP BY state",
                    (ws_id,),
                ).fetchall()
            )
            assert "running" not in states and "failed" not in states, states
            twice = db.execute(
                "SELECT kind, key, due_ms, count(*) FROM jobs WHERE workspace_id = %s"
                " AND state = 'done' GROUP BY kind, key, due_ms, payload HAVING count(*) > 1",
                (ws_id,),
            ).fetchall()
            assert twice == []
            runners = {
                row[0]
                for row in db.execute(
                    "SELECT DISTINCT claimed_by FROM jobs WHERE workspace_id = %s", (ws_id,)
                )
            }
        assert len(runners - {None}) >= 2  # the work was done by more than one instance
        assert min(cluster.lb.served[b] for b in cluster.backends) > 20  # all took requests
    finally:
        cluster.close()


def test_real_clock_tickers_share_the_due_work(tmp_path: Path) -> None:
    """Real-clock workspaces: the instances' tickers run each due attempt once, on time."""
    cluster = Cluster(tmp_path, count=3)
    try:
        workspaces = []
        for seed in range(6):
            api, ws_id = new_workspace(cluster, clock="real", seed=seed)
            failing_receiver(api)
            fire(api, 1)  # attempt 1 now; attempt 2 in one minute of this clock
            api.post("/_sim/clock/advance", {"seconds": 59})  # ... so in about a second
            workspaces.append(ws_id)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # real time by nature: the tickers are real
            if all(len(next(iter(attempts_of(cluster, w).values()), [])) >= 2 for w in workspaces):
                break
            time.sleep(0.1)
        time.sleep(0.5)  # long enough for a second run of the same attempt to show
        for ws_id in workspaces:
            (made,) = attempts_of(cluster, ws_id).values()
            assert [n for n, _ in made] == [1, 2]  # made once each
            gap = made[1][1] - made[0][1]
            assert SCHEDULE_MS[1] <= gap < SCHEDULE_MS[1] + 5000  # on time, give or take a tick
            assert len(received_of(cluster, ws_id)) == 2
            assert job_states(cluster, ws_id, ATTEMPT_JOB) == {"done": 2, "pending": 1}
    finally:
        cluster.close()


def test_an_instance_killed_mid_advance_leaves_its_work_to_the_others(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, count=3)
    try:
        api, ws_id = new_workspace(cluster)
        key = api.http.headers["Authorization"].split()[1]
        deliveries = 25
        failing_receiver(api, delay_ms=15)  # a slow receiver: the advance takes seconds
        fire(api, deliveries)
        start = now_ms(api)
        made = 8  # attempts 2..8 fall due before the target; the 9th (a day later) does not
        target = start + OFFSETS_MS[made - 1] + 60_000

        first = Http(cluster.backends[0], key)
        outcome: list[Any] = []

        def advance_on_the_first() -> None:
            try:
                outcome.append(first.post("/_sim/clock/set", {"now": iso(target)}))
            except requests.RequestException as exc:
                outcome.append(exc)

        mover = threading.Thread(target=advance_on_the_first)
        mover.start()
        deadline = time.monotonic() + 60
        while len(received_of(cluster, ws_id)) < deliveries + 60:  # well into the advance
            assert time.monotonic() < deadline and mover.is_alive(), outcome
            time.sleep(0.02)
        assert mover.is_alive()
        cluster.kill(0)
        mover.join(timeout=30)
        assert len(outcome) == 1 and isinstance(outcome[0], requests.RequestException), outcome
        with cluster.db() as db:  # the killed instance left a clock half way
            clock = db.execute(
                "SELECT clock_manual_ms FROM workspaces WHERE id = %s", (ws_id,)
            ).fetchone()[0]
        assert start < clock < target

        # The others finish it: the same move, through the balancer (instance 0 is gone).
        done = api.post("/_sim/clock/set", {"now": iso(target)})
        assert parse_iso(done["now"]) == target and done["jobs_run"] > 0

        attempts = attempts_of(cluster, ws_id)
        assert len(attempts) == deliveries
        assert_on_schedule(attempts, start, made=made)  # none lost, none made twice, on time
        assert job_states(cluster, ws_id, ATTEMPT_JOB) == {
            "done": deliveries * made,
            "pending": deliveries,  # each delivery's 9th attempt, due tomorrow
        }
        received = received_of(cluster, ws_id)
        recorded = sorted(at for each in attempts.values() for _, at in each)
        # Every attempt reached the receiver. The one request in flight when the instance
        # died may have reached it too (webhooks are at-least-once: receivers dedupe by the
        # event id); it was then made again by the instance that took the job over.
        assert deliveries * made <= len(received) <= deliveries * made + 1
        assert len(set(received)) == deliveries * made  # a repeat is the same event, instant
        assert {event for event, _ in received} == set(attempts)
        assert sorted({at for _, at in received}) == sorted(set(recorded))
    finally:
        cluster.close()
