"""A kill -9 at chosen points of the work, then a restart: nothing lost, nothing forked.

Each test plants a SIGKILL at one point (tests/crash_serve.py wraps the function from
outside; the product has no switch for it), drives `connect-sim serve` into it, checks the
process died of it, restarts on the same file and checks what survived.
"""

from __future__ import annotations

from pathlib import Path

import requests
from test_foundation_restart import RETURN_URL, Client, free_port, server

from simulator.testing import Sim

DELIVERIES = "simulator.domain.webhooks.deliveries"


def _killed(proc, log: Path) -> None:  # noqa: ANN001
    assert proc.wait(timeout=60) == -9, log.read_text()[-2000:]


def _try(client: Client, path: str, body: dict | None = None) -> None:
    """A request the planted kill may cut short (the process dies before answering)."""
    try:
        client.http.post(client.base + path, json=body, timeout=60)
    except requests.ConnectionError:
        pass


def _source(client: Client, name: str) -> str:
    sources = client.get("/connections", limit=100)["data"]
    return next(s["id"] for s in sources if name in s["name"].lower())


def _failing_endpoint(client: Client) -> tuple[str, str]:
    box = client.post("/_sim/inboxes", {"status": 500})
    endpoint = client.post("/webhooks", {"url": box["url"], "events": ["*"]})
    client.post("/patients", {"patient_id": "p1"})
    return box["id"], endpoint["id"]


def _fire(client: Client) -> None:
    body = {"type": "records.sync.failed", "patient_id": "p1"}
    _try(client, "/_sim/events", {**body, "connection_id": _source(client, "summit")})


def _arrivals(client: Client, box: str) -> list[str]:
    return [r["event_id"] for r in client.get(f"/_sim/inboxes/{box}")["received"]]


def _recorded(client: Client, endpoint: str) -> list[int]:
    attempts = client.get(f"/_sim/webhooks/{endpoint}/attempts", limit=100)["data"]
    return sorted(a["attempt"] for a in attempts if a["trigger"] == "automatic")


def test_kill_between_an_attempt_and_its_job_settling(tmp_path: Path) -> None:
    db, port = tmp_path / "sim.db", free_port()
    crash = f"{DELIVERIES}:attempt_job,1,after"  # recorded and committed, job not settled
    with server(db, port, tmp_path / "a.log", crash) as proc:
        client = Client(port)
        box, endpoint = _failing_endpoint(client)
        _fire(client)  # attempt 1 is sent and recorded, then the kill
        _killed(proc, tmp_path / "a.log")
    # the same port: the endpoint's URL (an inbox of this server) is kept as registered
    with server(db, port, tmp_path / "b.log"):
        client = Client(port)
        client.post("/_sim/clock/advance", {"seconds": 0})
        assert len(_arrivals(client, box)) == 1  # the recovered job does not send again
        client.post("/_sim/clock/advance", {"seconds": 60})
        assert len(_arrivals(client, box)) == 2  # attempt 2 on schedule, once
        client.post("/_sim/clock/advance", {"seconds": 300})
        assert len(_arrivals(client, box)) == 3
        assert _recorded(client, endpoint) == [1, 2, 3]


def test_kill_during_a_webhook_attempt(tmp_path: Path) -> None:
    db, port = tmp_path / "sim.db", free_port()
    with server(db, port, tmp_path / "a.log", f"{DELIVERIES}:send,1,after") as proc:
        client = Client(port)
        box, endpoint = _failing_endpoint(client)
        _fire(client)  # the POST went out; its outcome was never recorded
        _killed(proc, tmp_path / "a.log")
    with server(db, port, tmp_path / "b.log"):
        client = Client(port)
        client.post("/_sim/clock/advance", {"seconds": 0})
        arrivals = _arrivals(client, box)
        # at-least-once: attempt 1 is made again, the same event (receivers dedupe on id)
        assert len(arrivals) == 2 and len(set(arrivals)) == 1
        assert _recorded(client, endpoint) == [1]
        client.post("/_sim/clock/advance", {"seconds": 60})
        assert _recorded(client, endpoint) == [1, 2]  # the schedule goes on, unforked
        client.post("/_sim/clock/advance", {"seconds": 300})
        assert _recorded(client, endpoint) == [1, 2, 3]


def _connect(client: Client, source: str) -> str:
    client.post("/patients", {"patient_id": "p1"})
    session = client.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
    body = {"username": "alice", "source": _source(client, source), "password": "password"}
    _try(client, f"/_sim/patient-sessions/{session['id']}/connect", body)
    return session["id"]


def test_kill_during_a_pull_page_leaves_no_duplicate_and_no_gap(tmp_path: Path) -> None:
    db, port = tmp_path / "sim.db", free_port()
    with server(db, port, tmp_path / "a.log", "simulator.domain.records:upsert,1,after") as proc:
        session = _connect(Client(port), "summit")  # the first page is stored, then the kill
        _killed(proc, tmp_path / "a.log")
    port = free_port()
    with server(db, port, tmp_path / "b.log"):
        client = Client(port)
        client.post("/_sim/clock/advance", {"seconds": 0})  # the pull resumes
        connection = client.get(f"/patient-sessions/{session}")["connections"][0]
        assert connection["status"] == "active"
        records = client.get("/patients/p1/records", count=100)["data"]
        ids = [(r["resource"]["resourceType"], r["resource"]["id"]) for r in records]
        assert len(ids) == 50 and len(set(ids)) == 50  # the persona's 50, once each


def _refreshes_after(client_or_api, connection: str) -> dict:  # noqa: ANN001
    return client_or_api.get(f"/_sim/connections/{connection}")["tokens"]


def test_kill_during_a_long_advance_loses_no_refresh(tmp_path: Path) -> None:
    two_days = 2 * 86400
    with Sim() as sim:  # the same story without a crash
        api = sim.api()
        api.post("/patients", {"patient_id": "p1"})
        body = {"patient_id": "p1", "return_url": RETURN_URL}
        control_session = api.post("/patient-sessions", body).json
        sources = api.get("/connections", limit=100).json["data"]
        cerner = next(s["id"] for s in sources if "lakeside" in s["name"].lower())
        conn = api.connect(control_session["id"], source=cerner)["connection"]["id"]
        api.advance(two_days)
        expected = api.get(f"/_sim/connections/{conn}").json["tokens"]["refresh_count"]

    db, port = tmp_path / "sim.db", free_port()
    crash = "simulator.domain.keepalive:_store_refreshed,200,after"
    with server(db, port, tmp_path / "a.log", crash) as proc:
        client = Client(port)
        session = _connect(client, "lakeside")
        connection = client.get(f"/patient-sessions/{session}")["connections"][0]["id"]
        start = client.get("/_sim/clock")["now"]
        _try(client, "/_sim/clock/advance", {"seconds": two_days})  # dies at refresh 200
        _killed(proc, tmp_path / "a.log")
    port = free_port()
    with server(db, port, tmp_path / "b.log"):
        client = Client(port)
        moved = client.get("/_sim/clock")["now"]
        assert start < moved  # it got part of the way
        tokens = _refreshes_after(client, connection)
        # the 200th refresh's tokens were written in the transaction that ends its job, which
        # the kill cut short: neither is kept, and the job runs again (the portal answers a
        # client that missed its rotated token with that token once more)
        assert tokens["refresh_count"] == 199
        from simulator.core.timeutil import iso, parse_iso

        target = iso(parse_iso(start) + two_days * 1000)
        client.post("/_sim/clock/set", {"now": target})
        tokens = _refreshes_after(client, connection)
        assert tokens["refresh_count"] == expected, (tokens, expected)
        assert tokens["last_refresh_error"] is None
        assert client.get(f"/_sim/connections/{connection}")["status"] == "active"


def test_kill_during_a_refresh_at_a_rotating_portal_keeps_the_connection(tmp_path: Path) -> None:
    db, port = tmp_path / "sim.db", free_port()
    # the portal has rotated the refresh token; the simulator dies before storing it
    with server(db, port, tmp_path / "a.log", "simulator.clients.smart:refresh,1,after") as proc:
        client = Client(port)
        session = _connect(client, "lakeside")
        connection = client.get(f"/patient-sessions/{session}")["connections"][0]["id"]
        _try(client, "/_sim/clock/advance", {"seconds": 300})  # the first refresh: killed
        _killed(proc, tmp_path / "a.log")
    port = free_port()
    with server(db, port, tmp_path / "b.log"):
        client = Client(port)
        client.post("/_sim/clock/advance", {"seconds": 3600})
        after = client.get(f"/_sim/connections/{connection}")
        assert after["status"] == "active", after
        assert (
            after["tokens"]["refresh_count"] >= 12 and after["tokens"]["last_refresh_error"] is None
        )
        events = client.get("/_sim/events", limit=100)["data"]
        assert not [e for e in events if e["type"] == "connection.token_refresh_failed"]


def _sync_totals(client: Client) -> list[int]:
    events = client.get("/_sim/events", limit=100)["data"]
    completed = [e for e in events if e["type"] == "records.sync.completed"]
    return [e["data"]["object"]["total"] for e in reversed(completed)]  # oldest first


def test_kill_between_the_empty_pages_of_a_re_pull_reads_them_again(tmp_path: Path) -> None:
    db, port = tmp_path / "sim.db", free_port()
    with server(db, port, tmp_path / "a.log"):
        client = Client(port)
        _connect(client, "summit")  # the first pull reads the persona's 50
        assert _sync_totals(client) == [50]
    port = free_port()
    # The daily re-pull asks each type for what changed: nothing, so its pages are empty
    # and their progress is kept back; the kill comes after the third page.
    crash = "simulator.clients.fhir:get_json,3,after"
    with server(db, port, tmp_path / "b.log", crash) as proc:
        _try(Client(port), "/_sim/clock/advance", {"seconds": 86400})
        _killed(proc, tmp_path / "b.log")
    port = free_port()
    with server(db, port, tmp_path / "c.log"):
        client = Client(port)
        client.post("/_sim/clock/advance", {"seconds": 0})  # the re-pull resumes
        assert _sync_totals(client) == [50, 0]  # settled once, nothing lost or doubled
        records = client.get("/patients/p1/records", count=100)["data"]
        assert len(records) == 50
