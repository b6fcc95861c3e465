"""Connections follow the process to wherever it serves now: a restart on another port
(another base URL) keeps every refresh and pull working."""

from __future__ import annotations

from pathlib import Path

from test_foundation_restart import Client, free_port, server
from test_serve_shutdown import _keep_a_connection


def test_a_restart_on_another_port_keeps_refreshing_and_pulling(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    first_port = free_port()
    with server(db, first_port, tmp_path / "first.log") as proc:
        connection = _keep_a_connection(Client(first_port))
        proc.terminate()
        assert proc.wait(timeout=60) == 0

    port = free_port()
    assert port != first_port
    with server(db, port, tmp_path / "second.log"):
        client = Client(port)
        before = client.get(f"/_sim/connections/{connection}")
        client.post("/_sim/clock/advance", {"seconds": 86400})  # ~150 refreshes at 570 s tokens
        after = client.get(f"/_sim/connections/{connection}")
        assert after["status"] == "active", after
        refreshed = after["tokens"]["refresh_count"] - before["tokens"]["refresh_count"]
        assert refreshed > 100, (before, after)
        assert after["tokens"]["last_refresh_error"] is None
        pulled = client.post(f"/_sim/connections/{connection}/pull")
        assert pulled["last_pull"]["status"] == "completed", pulled
        assert pulled["last_pull"]["errors"] == [] and pulled["last_pull"]["total"] == 50
        records = client.get("/patients/p1/records", count=5)
        assert records["data"], records
