"""A careless webhook receiver: it checks no signature and answers 200 to everything.

    python examples/receivers/careless_receiver.py 8788

Anyone who knows its URL can make it act on forged events. It exists to show
what the grader catches; do not copy it. The port comes from argv or `PORT`
(0 picks a free one); a secret, if given, is ignored, as the receiver ignores it.
Once listening it prints `ready http://127.0.0.1:<port>/`.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main(argv: list[str]) -> int:
    port_text = argv[1] if len(argv) > 1 else os.environ.get("PORT", "8788")
    if not port_text.isdigit() or int(port_text) > 65535:
        print(f"the port must be a number from 0 to 65535, not {port_text!r}", file=sys.stderr)
        return 2
    host = os.environ.get("HOST", "127.0.0.1")
    server = ThreadingHTTPServer((host, int(port_text)), Handler)
    server.daemon_threads = True
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
