"""Complete headless Picker flows per second over real HTTP against `connect-sim serve`.

Starts `connect-sim serve` (default options: 8 threads, a WAL file, a real
clock) on a free loopback port, then runs flows from 1 and from 4 client
threads, each in its own workspace, for a bounded count and time. A flow:
create a session, the headless patient connects one source (hosted page,
portal login and consent, callback, code exchange, first pull), Done. Prints
flows/s and errors per client count, as a table and one JSON line.

`--workers 1,2` runs the same clients against `serve --workers 1` and then
`--workers 2` in one run; with `--db postgresql://...` each server gets a fresh
schema of that database instead of a fresh WAL file.

    python bench/bench_serve.py [--seconds 10] [--flows 200] [--clients 1,4]
    python bench/bench_serve.py --workers 1,2 [--db postgresql://...]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the simulator's schema helpers, for --db
EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
KEY = "mb_sk_sbx_bench_serve_default_key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(db: str, port: int, workers: int = 1) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "simulator.cli", "serve", "--port", str(port)]
    cmd += ["--db", db, "--api-key", KEY, "--workers", str(workers)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/health", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("connect-sim serve did not start")


def flow(http: requests.Session, base: str, key: str, patient_id: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    session = http.post(
        f"{base}/patient-sessions",
        json={"patient_id": patient_id, "return_url": "https://app.example/r"},
        headers=auth,
        timeout=30,
    ).json()
    result = http.post(
        f"{base}/_sim/patient-sessions/{session['id']}/connect",
        json={"source": EPIC, "username": "alice"},
        headers=auth,
        timeout=30,
    )
    connection = (result.json() if result.status_code == 200 else {}).get("connection") or {}
    if connection.get("status") != "active":
        raise RuntimeError(f"connect answered {result.status_code}: {result.text[:300]}")
    done = http.post(f"{base}/_sim/patient-sessions/{session['id']}/done", headers=auth, timeout=30)
    if done.status_code != 200:
        raise RuntimeError(f"done answered {done.status_code}")


def run(base: str, clients: int, flows: int, seconds: float) -> dict[str, float]:
    keys = []
    for _ in range(clients):
        created = requests.post(f"{base}/_sim/workspaces", json={"seed": 5}, timeout=10).json()
        keys.append(created["api_key"])
    counts = [0] * clients
    errors = [0] * clients
    deadline = time.perf_counter() + seconds
    per_client = max(1, flows // clients)

    def client(n: int) -> None:
        http = requests.Session()
        http.trust_env = False
        warm = False
        while counts[n] < per_client and time.perf_counter() < deadline:
            try:
                flow(http, base, keys[n], f"p{n}-{counts[n]}" if warm else "warm-up")
                if warm:
                    counts[n] += 1
                warm = True
            except (RuntimeError, requests.RequestException, ValueError, KeyError) as exc:
                if not sum(errors):  # the first error of the run, for whoever reads the table
                    print(f"client {n}: {exc}", file=sys.stderr)
                errors[n] += 1
                if errors[n] > 20:
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return {"flows": sum(counts), "errors": sum(errors), "flows_per_s": sum(counts) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flows", type=int, default=200)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--db", default=None, help="a postgresql:// URL (a schema per server)")
    parser.add_argument("--workers", default="1", help="worker counts to compare, e.g. 1,2")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    results: dict[int, dict[int, dict[str, float]]] = {}
    for workers in counts:
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            schema = f"bench_serve_{os.getpid()}_{workers}"
            db = str(Path(tmp) / "sim.db")
            if args.db:
                from simulator.core.store_pg import create_schema

                db = create_schema(args.db, schema)
            proc = start(db, port, workers)
            try:
                base = f"http://127.0.0.1:{port}"
                results[workers] = {
                    int(c): run(base, int(c), args.flows, args.seconds)
                    for c in args.clients.split(",")
                }
            finally:
                proc.terminate()
                proc.wait(timeout=60)
                if args.db:
                    from simulator.core.store_pg import drop_schema

                    drop_schema(args.db, schema)
    store = "postgresql" if args.db else "SQLite WAL file"
    print(f"store: {store}")
    print(f"{'workers':>8} {'clients':>8} {'flows':>6} {'errors':>6} {'flows/s':>8}")
    for workers, by_clients in results.items():
        for clients, r in by_clients.items():
            print(
                f"{workers:>8} {clients:>8} {r['flows']:>6} {r['errors']:>6}"
                f" {r['flows_per_s']:>8.1f}"
            )
    print(json.dumps({"bench": "serve", "store": store, "results": results}))


if __name__ == "__main__":
    main()
