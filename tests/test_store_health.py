"""`/health` touches the store: 503 when the file is corrupt, truncated or deleted;
`serve` refuses a corrupt file with one clear line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simulator.core import store as store_module
from simulator.testing import Sim


@pytest.fixture
def served_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(store_module, "HEALTH_CACHE_S", 0.0)  # every call checks afresh
    sim = Sim(db_path=str(tmp_path / "sim.db"))
    api = sim.api()
    for n in range(200):
        api.post("/patients", {"patient_id": f"p{n}", "metadata": {"pad": "x" * 500}})
    sim.runtime.store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    yield sim, tmp_path / "sim.db"
    sim.close()


def test_health_is_200_on_a_sound_database(served_file) -> None:
    sim, _ = served_file
    resp = sim.client.get("/health")
    assert resp.status_code == 200 and resp.json["ok"] is True


def test_health_is_503_when_the_file_is_truncated_underneath(served_file) -> None:
    sim, path = served_file
    with path.open("r+b") as handle:
        handle.truncate(4096 * 3)
    resp = sim.client.get("/health")
    assert resp.status_code == 503, resp.json
    assert resp.json["error"]["code"] == "db_error"
    assert "corrupt" in resp.json["error"]["message"]
    assert resp.headers["X-Request-Id"] == resp.json["error"]["request_id"]


def test_health_is_503_when_the_file_is_deleted_while_serving(served_file) -> None:
    sim, path = served_file
    os.remove(path)
    resp = sim.client.get("/health")
    assert resp.status_code == 503
    assert "deleted or replaced" in resp.json["error"]["message"]


def test_serve_refuses_a_corrupt_database_with_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "broken.db"
    db.write_bytes(b"this is not a database" * 300)
    proc = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", "--db", str(db), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "cannot open the database" in proc.stderr and str(db) in proc.stderr
