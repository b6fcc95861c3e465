"""The engine on the virtual clock: jobs per second, the cost of a late day, statements per job.

Workloads (each in a fresh in-memory simulator, unless `--file`):

* `cerner-30d`: one Oracle-like connection (570 s tokens, refreshed every 285 s)
  kept 30 virtual days, advanced one day at a time;
* `epic-10x30d`: ten Epic-like connections (1 h tokens) kept 30 virtual days.

For each: wall time, jobs, jobs/s, the wall time of the first and the last
simulated day and their ratio (1.0 means a late day costs what an early one
does), and SQL statements per job. Then the statements of one refresh and of one
complete Picker flow. Prints a table and one JSON line.

    python bench/bench_clock.py            # in memory, 3 runs each, medians
    python bench/bench_clock.py --file     # on a WAL file
    python bench/bench_clock.py --db postgresql://...  # on PostgreSQL, a fresh schema per run
    python bench/bench_clock.py --runs 1 --days 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.testing import TEST_DB_ENV, Api, Sim  # noqa: E402

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
CERNER = "fhirsrc_01JGFJJZ00YVKTWEWBRM5JHM71"
DAY = 86400


class Statements:
    """Counts the SQL statements the store runs while enabled, and on PostgreSQL the round
    trips to the server they took (a pipeline counts once; BEGIN and COMMIT count)."""

    def __init__(self, sim: Sim) -> None:
        self.store = sim.runtime.store
        self.count = 0
        self.round_trips: int | None = None

    def __enter__(self) -> Statements:
        self.count = 0
        self._trips = getattr(self.store, "round_trips", None)
        self.store.trace(self._seen)
        return self

    def _seen(self, _sql: str) -> None:
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        self.store.trace(None)
        if self._trips is not None:
            self.round_trips = self.store.round_trips - self._trips


def connect(api: Api, patient_id: str, source: str) -> dict[str, Any]:
    session = api.post(
        "/patient-sessions", {"patient_id": patient_id, "return_url": "https://app.example/r"}
    ).json
    result = api.post(
        f"/_sim/patient-sessions/{session['id']}/connect", {"source": source, "username": "alice"}
    ).json
    assert result["connection"]["status"] == "active", result
    api.post(f"/_sim/patient-sessions/{session['id']}/done")
    return result


def new_sim(db_dir: str | None) -> Sim:
    db = ":memory:" if db_dir is None else str(Path(tempfile.mkdtemp(dir=db_dir)) / "sim.db")
    sim = Sim(db_path=db)
    sim.route_outbound()
    return sim


def keep_connections(source: str, count: int, days: int, db_dir: str | None) -> dict[str, Any]:
    with new_sim(db_dir) as sim:
        api, _ = sim.new_workspace(seed=3)
        for i in range(count):
            connect(api, f"p{i}", source)
        per_day: list[float] = []
        jobs = 0
        with Statements(sim) as statements:
            for _ in range(days):
                started = time.perf_counter()
                jobs += api.advance(DAY)["jobs_run"]
                per_day.append(time.perf_counter() - started)
        wall = sum(per_day)
        return {
            "wall_s": wall,
            "jobs": jobs,
            "jobs_per_s": jobs / wall if wall else float("inf"),
            "first_day_s": per_day[0],
            "last_day_s": per_day[-1],
            "last_over_first": per_day[-1] / per_day[0] if per_day[0] else float("inf"),
            "statements_per_job": statements.count / jobs if jobs else 0.0,
            "round_trips_per_job": (
                statements.round_trips / jobs if jobs and statements.round_trips else 0.0
            ),
        }


def statements_per_refresh(db_dir: str | None) -> tuple[float, float | None]:
    """Statements per refresh job, and round trips per refresh job (PostgreSQL only)."""
    with new_sim(db_dir) as sim:
        api, _ = sim.new_workspace(seed=3)
        connect(api, "p1", CERNER)
        api.advance(60)  # settle the first pull
        with Statements(sim) as statements:  # 100 refreshes: one advance's own statements
            ran = api.advance(285 * 100)["jobs_run"]  # count for 1 %
        trips = None if statements.round_trips is None else statements.round_trips / max(ran, 1)
        return statements.count / max(ran, 1), trips


def statements_per_flow(db_dir: str | None) -> int:
    with new_sim(db_dir) as sim:
        api, _ = sim.new_workspace(seed=3)
        connect(api, "warm-up", EPIC)
        with Statements(sim) as statements:
            connect(api, "p1", EPIC)
        return statements.count


def median_of(runs: int, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    results = [work() for _ in range(runs)]
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--file", action="store_true", help="a SQLite WAL file, not :memory:")
    parser.add_argument("--db", default=None, help="a postgresql:// URL (a schema per run)")
    args = parser.parse_args()
    db_dir = tempfile.mkdtemp(prefix="bench-clock-") if args.file else None
    if args.db:
        os.environ[TEST_DB_ENV] = args.db  # every Sim gets a fresh schema of that database
    else:
        os.environ.pop(TEST_DB_ENV, None)  # SQLite, whatever the shell has set
    store = "postgresql" if args.db else "file" if args.file else "memory"

    rows = {
        f"cerner-{args.days}d": median_of(
            args.runs, lambda: keep_connections(CERNER, 1, args.days, db_dir)
        ),
        f"epic-10x{args.days}d": median_of(
            args.runs, lambda: keep_connections(EPIC, 10, args.days, db_dir)
        ),
    }
    print(f"store: {store}, medians of {args.runs}")
    print(
        f"{'workload':<16} {'wall s':>8} {'jobs':>7} {'jobs/s':>8} {'day 1 s':>8}"
        f" {'last s':>8} {'last/1st':>8} {'stmt/job':>8}"
    )
    for name, r in rows.items():
        print(
            f"{name:<16} {r['wall_s']:>8.2f} {r['jobs']:>7.0f} {r['jobs_per_s']:>8.0f}"
            f" {r['first_day_s']:>8.3f} {r['last_day_s']:>8.3f} {r['last_over_first']:>8.2f}"
            f" {r['statements_per_job']:>8.1f}"
        )
    per_refresh, trips_per_refresh = statements_per_refresh(db_dir)
    per_flow = statements_per_flow(db_dir)
    print(f"statements per refresh job: {per_refresh:.1f}")
    if trips_per_refresh is not None:
        print(f"round trips per refresh job: {trips_per_refresh:.1f}")
    print(f"statements per complete flow: {per_flow}")
    print(
        json.dumps(
            {
                "bench": "clock",
                "store": store,
                "runs": args.runs,
                "workloads": rows,
                "statements_per_refresh": per_refresh,
                "round_trips_per_refresh": trips_per_refresh,
                "statements_per_flow": per_flow,
            }
        )
    )


if __name__ == "__main__":
    main()
