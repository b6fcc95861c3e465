"""A whole simulator served over loopback HTTP in a thread, for browser and network tests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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
