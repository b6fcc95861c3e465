"""Mixed load against `connect-sim serve` with default options: throughput, p50 and p99 per
operation, and errors.

N client threads, each in its own workspace, for T seconds, pick operations at random
(seeded) with these weights: list patients, read a session, create a session, create a
patient, read records, a whole headless flow (connect + Done), list webhooks. An error is
any non-2xx answer or a failed request. Prints a table and one JSON line.

    python bench/bench_load.py [--clients 8] [--seconds 10] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests
from bench_serve import EPIC, free_port, start

WEIGHTS = {
    "list_patients": 30,
    "get_session": 20,
    "create_session": 15,
    "create_patient": 10,
    "records": 10,
    "flow": 10,
    "list_webhooks": 5,
}
RETURN_URL = "https://app.example/r"


class Client:
    def __init__(self, base: str, key: str, n: int, seed: int) -> None:
        self.base, self.n = base, n
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {key}"
        self.rng = random.Random(seed * 1000 + n)
        self.sessions: list[str] = []
        self.patients = 0
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        resp = self.http.request(method, self.base + path, json=body, timeout=60)
        if not 200 <= resp.status_code < 300:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text[:200]}")
        return resp.json()

    def new_session(self) -> str:
        body = {"patient_id": f"c{self.n}-p{self.patients}", "return_url": RETURN_URL}
        session = self.call("POST", "/patient-sessions", body)
        self.sessions.append(session["id"])
        return session["id"]

    def one(self, op: str) -> None:
        if op == "list_patients":
            self.call("GET", "/patients?limit=20")
        elif op == "get_session":
            self.call("GET", f"/patient-sessions/{self.rng.choice(self.sessions)}")
        elif op == "create_session":
            self.new_session()
        elif op == "create_patient":
            self.patients += 1
            self.call("POST", "/patients", {"patient_id": f"c{self.n}-p{self.patients}"})
        elif op == "records":
            self.call("GET", f"/patients/c{self.n}-flow/records?count=20")
        elif op == "flow":
            body = {"patient_id": f"c{self.n}-flow", "return_url": RETURN_URL}
            session = self.call("POST", "/patient-sessions", body)["id"]
            connect = {"source": EPIC, "username": "alice"}
            got = self.call("POST", f"/_sim/patient-sessions/{session}/connect", connect)
            if got["connection"]["status"] != "active":
                raise RuntimeError(f"flow ended {got['connection']['status']}")
            self.call("POST", f"/_sim/patient-sessions/{session}/done")
        elif op == "list_webhooks":
            self.call("GET", "/webhooks")

    def run(self, deadline: float) -> None:
        self.call("POST", "/patients", {"patient_id": f"c{self.n}-flow"})
        self.new_session()
        ops, weights = list(WEIGHTS), list(WEIGHTS.values())
        while time.perf_counter() < deadline:
            op = self.rng.choices(ops, weights)[0]
            started = time.perf_counter()
            try:
                self.one(op)
            except (RuntimeError, requests.RequestException, ValueError, KeyError):
                self.errors[op] += 1
            self.latency[op].append((time.perf_counter() - started) * 1000)


def quantile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = start(Path(tmp) / "sim.db", port)
        base = f"http://127.0.0.1:{port}"
        try:
            clients = []
            for n in range(args.clients):
                created = requests.post(f"{base}/_sim/workspaces", json={"seed": n}, timeout=10)
                clients.append(Client(base, created.json()["api_key"], n, args.seed))
            deadline = time.perf_counter() + args.seconds
            threads = [threading.Thread(target=c.run, args=(deadline,)) for c in clients]
            started = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    rows = {}
    for op in WEIGHTS:
        values = [v for c in clients for v in c.latency[op]]
        errors = sum(c.errors[op] for c in clients)
        rows[op] = {
            "count": len(values),
            "per_s": round(len(values) / elapsed, 1),
            "p50_ms": round(quantile(values, 0.5), 1),
            "p99_ms": round(quantile(values, 0.99), 1),
            "errors": errors,
        }
    total = sum(r["count"] for r in rows.values())
    errors = sum(r["errors"] for r in rows.values())
    print(f"{args.clients} clients x {args.seconds:g} s against connect-sim serve (defaults)")
    print(f"{'operation':<16} {'count':>6} {'per s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for op, r in rows.items():
        print(
            f"{op:<16} {r['count']:>6} {r['per_s']:>7} {r['p50_ms']:>8} {r['p99_ms']:>8}"
            f" {r['errors']:>6}"
        )
    print(f"{'all':<16} {total:>6} {total / elapsed:>7.1f} {'':>8} {'':>8} {errors:>6}")
    print(
        json.dumps(
            {
                "bench": "load",
                "clients": args.clients,
                "seconds": args.seconds,
                "requests_per_s": round(total / elapsed, 1),
                "errors": errors,
                "operations": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
