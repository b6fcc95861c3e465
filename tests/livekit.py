"""A whole simulator served over loopback HTTP in a thread, for browser and network tests."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from simulator.testing import Sim

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# `CONNECT_SIM_ARTIFACTS` (relative to the repository) keeps a second run's screenshots apart.
ARTIFACTS = (
    Path(__file__).resolve().parent.parent
    / os.environ.get("CONNECT_SIM_ARTIFACTS", "artifacts")
    / "screenshots"
)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (closed on exit)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    """Keep a screenshot of `page` as a test artifact (`artifacts/screenshots/NAME.png`)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 1000
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_sim(**overrides) -> Iterator[Sim]:
    """A Sim whose base URL is a real loopback server (threaded)."""
    port = free_port()
    sim = Sim(base_url=f"http://127.0.0.1:{port}", **overrides)
    server = make_server("127.0.0.1", port, sim.wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sim
    finally:
        server.shutdown()
        thread.join(timeout=5)
        sim.close()
