"""`serve` writes one access line per request (no query, no link token); `--quiet` none."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import requests
from test_foundation_restart import RETURN_URL, Client, free_port, server


def test_one_line_per_request_without_secrets(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    with server(tmp_path / "sim.db", port, log):
        client = Client(port)
        session = client.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
        link = urlsplit(session["url"]).path
        requests.get(f"{client.base}{link}", timeout=10)
        requests.get(
            f"{client.base}/oauth/callback?code=sekrit-code&state=sekrit-state", timeout=10
        )
        client.get("/patients", limit=5)
    text = log.read_text()
    assert '"POST /patient-sessions" 200' in text
    assert '"GET /c/[link]" 200' in text
    assert '"GET /patients" 200' in text
    assert '"GET /oauth/callback" 400' in text
    for secret in (link.rsplit("/", 1)[-1], "sekrit-code", "sekrit-state", "limit=5"):
        assert secret not in text


def test_quiet_writes_no_access_lines(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "serve.log"
    with server(tmp_path / "sim.db", port, log, args=("--quiet",)):
        Client(port).get("/patients")
    assert '"GET /patients"' not in log.read_text()
    assert '"GET /health"' not in log.read_text()
