"""`connect-sim portals` as a separate process on a free port, for tests that reach the
portals from outside this process (client-js, an outside SMART server)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from test_foundation_restart import free_port, ready_process


@contextmanager
def portals_process(tmp: Path, seed: int = 0) -> Iterator[str]:
    """Start `connect-sim portals` on a fresh SQLite file; yields its base URL."""
    port = free_port()
    log = tmp / "portals.log"
    cmd = [
        sys.executable,
        "-m",
        "simulator.cli",
        "portals",
        "--db",
        str(tmp / "portals.db"),
        "--port",
        str(port),
        "--seed",
        str(seed),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    base = f"http://127.0.0.1:{port}"
    with ready_process(cmd, log, f"{base}/_sim/portals", env=env, graceful=True):
        yield base


def register_public_client(base: str, slug: str, redirect_uri: str) -> str:
    """An anonymous RFC 7591 registration of a public client (PKCE, no secret)."""
    resp = requests.post(
        f"{base}/portals/{slug}/register",
        json={
            "redirect_uris": [redirect_uri],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "client-js launch",
        },
        timeout=10,
    )
    assert resp.status_code == 201, resp.text
    return resp.json()["client_id"]


def api_key(tmp: Path) -> str:
    """The default workspace's API key, from the banner of the process started in `tmp`."""
    for line in (tmp / "portals.log").read_text().splitlines():
        if line.strip().startswith("API key"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no API key in the portals banner")
