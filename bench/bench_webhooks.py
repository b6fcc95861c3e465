"""Webhook deliveries per second to a receiver on a loopback port.

The simulator runs in-process (in-memory store, manual clock); the receiver
is a `http.server` on 127.0.0.1 answering 200 (or 500, to drive the whole
retry schedule). Each delivery is a real signed POST over a socket, recorded
with its attempt log, exactly as in `serve` mode. Bounded by an event count
and a time budget per measurement.

    .venv/bin/python bench/bench_webhooks.py [--events N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from simulator.core.timeutil import DAY, SECOND
from simulator.domain.webhooks.publish import emit
from simulator.testing import Sim


class Receiver:
    """Counts requests; answers `status`."""

    def __init__(self, status: int) -> None:
        self.count = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # answer without waiting on delayed ACKs

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    outer.count += 1
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(label: str, status: int, events: int, seconds: float, advance_ms: int) -> float:
    receiver = Receiver(status)
    with Sim() as sim:
        rt = sim.runtime
        api, _ = sim.new_workspace(seed=1)
        ws = api.get("/_sim/workspace").json["id"]
        assert api.post("/webhooks", {"url": receiver.url, "events": ["*"]}).status_code == 200
        payload = {"resource_type": "records_sync", "patient_id": "bench", "error_message": "x"}
        sent = 0
        start = time.perf_counter()
        deadline = start + seconds
        while sent < events and time.perf_counter() < deadline:
            batch = min(50, events - sent)
            for _ in range(batch):
                emit(rt, ws, "records.sync.failed", payload)
            sent += batch
            rt.scheduler.advance_to(ws, rt.now(ws) + advance_ms)
        elapsed = time.perf_counter() - start
    receiver.close()
    rate = receiver.count / elapsed if elapsed > 0 else float("inf")
    print(
        f"{label:<44} {rate:>8.0f} deliveries/s   "
        f"({receiver.count} POSTs for {sent} events in {elapsed:.2f} s)"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000, help="events per measurement")
    parser.add_argument("--seconds", type=float, default=20.0, help="time budget per measurement")
    args = parser.parse_args()
    results = {
        "receiver 200": run(
            "receiver answers 200 (one attempt each)", 200, args.events, args.seconds, SECOND
        )
    }
    results["receiver 500"] = run(
        "receiver answers 500 (9 attempts each, 4 days)",
        500,
        max(1, args.events // 9),
        args.seconds,
        4 * DAY,
    )
    print(json.dumps({"bench": "webhooks", "unit": "deliveries/s", "results": results}))


if __name__ == "__main__":
    main()
