"""The least a token endpoint on waitress can cost: a WSGI app that reads the form and
answers one fixed token response, served as `connect-sim serve` serves (waitress, 8
threads). `bench_tokens.py --floor` sends it the same loads as the real endpoint, so
the table shows how much of each figure is the HTTP server itself.

    python bench/floor_app.py PORT
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

ANSWER = json.dumps(
    {
        "access_token": "a" * 43,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "launch/patient offline_access patient/*.read",
        "refresh_token": "r" * 43,
        "patient": "bench-1",
    }
).encode()
HEADERS = [
    ("Content-Type", "application/json"),
    ("Content-Length", str(len(ANSWER))),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    environ["wsgi.input"].read(length)
    start_response("200 OK", HEADERS)
    return [ANSWER]


if __name__ == "__main__":
    import waitress

    waitress.serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=8, ident="floor")
