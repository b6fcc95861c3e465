"""The cost of one in-process call: `requests` through the WSGI adapter, and `Session.call`.

The simulator's token requests and FHIR reads go to its own app in process. This
measures what the transport adds around the app: the app here answers a prepared
token response at once, so the figure is the transport's own cost per call (a form
POST with Basic authentication, the JSON answer read). Each way runs in rounds,
one round of each in turn, so a change in the machine's load shows in both; the
medians and their ratio are printed as a table and one JSON line.

    python bench/bench_transport.py [--calls 2000] [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.core.transport import Session, WsgiAdapter  # noqa: E402

URL = "http://sim.test/portals/lakeside-cerner/token"
BODY = (
    b'{"access_token":"Jl716HnHDGFuPd2baVW291tHbLOlY25Mf9SYltPP_BE","token_type":"Bearer",'
    b'"expires_in":570,"scope":"launch/patient openid fhirUser offline_access patient/*.read",'
    b'"refresh_token":"0XZb--GNE_HCaoMzYG5hvp2Uo1dfqc0cQdq1uOLRTu0"}\n'
)
HEADERS = [
    ("Content-Type", "application/json"),
    ("Cache-Control", "no-store"),
    ("Pragma", "no-cache"),
    ("Access-Control-Allow-Origin", "*"),
    ("Content-Length", str(len(BODY))),
]
FORM = "grant_type=refresh_token&refresh_token=0XZb--GNE_HCaoMzYG5hvp2Uo1dfqc0cQdq1uOLRTu0"
SENT = {
    "Accept": "application/json",
    "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8",
    "Authorization": "Basic Y2xpZW50OnNlY3JldA==",
}


def token_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    environ["wsgi.input"].read()
    start_response("200 OK", HEADERS)
    return [BODY]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    http = Session()
    http.trust_env = False
    http.mount("http://sim.test/", WsgiAdapter(token_app))
    ways: dict[str, Callable[[], Any]] = {
        "requests (Session.post)": lambda: http.post(
            URL, data=FORM, headers=SENT, timeout=10
        ).json(),
        "Session.call": lambda: http.call("POST", URL, data=FORM, headers=SENT, timeout=10).json(),
    }
    costs: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, call in ways.items():
            started = time.perf_counter()
            for _ in range(args.calls):
                call()
            costs[name].append((time.perf_counter() - started) / args.calls * 1e6)
    medians = {name: statistics.median(values) for name, values in costs.items()}
    print(f"{'in-process token call':<28} {'µs/call':>8}   (median of {args.rounds} rounds)")
    for name, value in medians.items():
        print(f"{name:<28} {value:>8.1f}")
    plain, short = medians.values()
    print(f"{'Session.call / requests':<28} {short / plain:>8.2f}")
    print(
        json.dumps(
            {
                "bench": "transport",
                "calls": args.calls,
                "rounds": args.rounds,
                "us_per_call": {name: round(v, 2) for name, v in medians.items()},
                "call_over_requests": round(short / plain, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
