"""API requests per second, in-process: create a patient session, retrieve one.

Runs the whole WSGI app (auth, validation, store, error handling) through the
Werkzeug test client, on an in-memory SQLite store and then on a WAL file, so
the figure is the simulator's own cost per request without sockets. Bounded by a request count
and a time budget per measurement.

    .venv/bin/python bench/bench_api.py [--requests N] [--seconds S]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from benchkit import Report

from simulator.testing import Sim

RETURN_URL = "https://app.example/done"


def run(label: str, db_path: str, requests: int, seconds: float) -> dict:
    with Sim(db_path=db_path) as sim:
        api, _ = sim.new_workspace(seed=1)
        created: list[str] = []

        def create(i: int) -> None:
            resp = api.post(
                "/patient-sessions",
                {"patient_id": f"bench-{i % 200}", "return_url": RETURN_URL, "expires_in": 3600},
            )
            assert resp.status_code == 200, resp.get_data(as_text=True)
            created.append(resp.json["id"])

        def retrieve(i: int) -> None:
            resp = api.get(f"/patient-sessions/{created[i % len(created)]}")
            assert resp.status_code == 200, resp.get_data(as_text=True)

        def health(i: int) -> None:
            assert sim.client.get("/health").status_code == 200

        print(f"connect-sim API in-process (werkzeug test client), {label}")
        report = Report("api")
        report.measure("GET /health", health, requests, seconds)
        report.measure("POST /patient-sessions", create, requests, seconds)
        report.measure("GET /patient-sessions/{id}", retrieve, requests, seconds)
        return report.results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per measurement")
    parser.add_argument("--seconds", type=float, default=10.0, help="time budget per measurement")
    args = parser.parse_args()
    results = {"memory": run("SQLite in memory", ":memory:", args.requests, args.seconds)}
    with tempfile.TemporaryDirectory() as tmp:
        results["file"] = run(
            "SQLite file (WAL)", str(Path(tmp) / "bench.db"), args.requests, args.seconds
        )
    print(json.dumps({"bench": "api", "unit": "req/s", "results": results}))


if __name__ == "__main__":
    main()
