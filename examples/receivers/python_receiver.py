"""A Medblocks Connect webhook receiver using only the Python standard library.

    CONNECT_SIM_WEBHOOK_SECRET=whsec_... python examples/receivers/python_receiver.py 8787

The port and secret come from argv (`PORT [SECRET]`) or the environment (`PORT`,
`CONNECT_SIM_WEBHOOK_SECRET`); port 0 picks a free one. Once listening it prints
`ready http://127.0.0.1:<port>/`.

What it does, per the delivery contract:
- verifies `Medblocks-Signature: t=<unix>,v1=<hex>` over the raw body: HMAC-SHA256
  of "<t>.<body>" keyed with the `whsec_...` secret, compared in constant time,
  the timestamp within 300 s of now; anything else is answered 400;
- answers 200 at once and hands the event to a worker thread, so slow work
  never holds Medblocks past its 5 s time-out;
- remembers event ids and acknowledges a repeat without handling it again
  (deliveries are at-least-once); a production receiver keeps them in its
  database for 90 days instead of in memory;
- acknowledges and ignores event types it does not know.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEADER = "Medblocks-Signature"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1_000_000
REMEMBERED_EVENTS = 100_000
KNOWN_TYPES = (
    "patient_session.completed",
    "connection.token_refresh_failed",
    "records.sync.completed",
    "records.sync.failed",
)


class SignatureError(ValueError):
    """The delivery is not from Medblocks (or not as it was sent)."""


def verify(raw: bytes, header: str | None, secret: str, now: float) -> dict[str, Any]:
    """The event in `raw` when `header` signs it with `secret` at a time near `now`."""
    if not header:
        raise SignatureError(f"no {HEADER} header")
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            digests.append(value.strip().lower())
    if timestamp is None or not digests:
        raise SignatureError("malformed signature header")
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise SignatureError("timestamp outside the tolerance")
    message = str(timestamp).encode() + b"." + raw
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().encode()
    matched = False
    for digest in digests:  # every value is compared: no early exit
        matched |= hmac.compare_digest(expected, digest.encode())
    if not matched:
        raise SignatureError("no matching signature")
    try:
        event = json.loads(raw)
    except ValueError:
        raise SignatureError("the body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise SignatureError("the body is not an event")
    return event


class SeenEvents:
    """Event ids already acknowledged (the most recent ones, bounded)."""

    def __init__(self, limit: int = REMEMBERED_EVENTS) -> None:
        self.limit = limit
        self.ids: OrderedDict[str, None] = OrderedDict()
        self.lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        with self.lock:
            if event_id in self.ids:
                return False
            self.ids[event_id] = None
            if len(self.ids) > self.limit:
                self.ids.popitem(last=False)
            return True


def handle(event: dict[str, Any]) -> None:
    """The application's work for one event (here: a log line)."""
    obj = event.get("data", {}).get("object", {})
    print(f"handled {event['type']} {event['id']} patient={obj.get('patient_id')}", flush=True)


def work(events: queue.Queue[dict[str, Any]]) -> None:
    while True:
        event = events.get()
        try:
            handle(event)
        except Exception as exc:  # noqa: BLE001 - one bad event must not stop the worker
            print(f"failed {event.get('id')}: {exc}", file=sys.stderr, flush=True)


def make_server(port: int, secret: str, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    seen = SeenEvents()
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    threading.Thread(target=work, args=(events,), daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self.answer(413 if length > 0 else 400, {"error": "bad body length"})
                return
            raw = self.rfile.read(length)
            try:
                event = verify(raw, self.headers.get(HEADER), secret, time.time())
            except SignatureError as exc:
                self.answer(400, {"error": str(exc)})
                return
            if not seen.first_time(event["id"]):
                self.answer(200, {"received": True, "duplicate": True})
                return
            if event.get("type") in KNOWN_TYPES:
                events.put(event)
            self.answer(200, {"received": True})

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str]) -> int:
    port_text = argv[1] if len(argv) > 1 else os.environ.get("PORT", "8787")
    secret = argv[2] if len(argv) > 2 else os.environ.get("CONNECT_SIM_WEBHOOK_SECRET", "")
    if not port_text.isdigit() or int(port_text) > 65535:
        print(f"the port must be a number from 0 to 65535, not {port_text!r}", file=sys.stderr)
        return 2
    if not secret.startswith("whsec_"):
        print("set the signing secret (whsec_...) in CONNECT_SIM_WEBHOOK_SECRET", file=sys.stderr)
        return 2
    host = os.environ.get("HOST", "127.0.0.1")
    server = make_server(int(port_text), secret, host)
    print(f"ready http://{host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
