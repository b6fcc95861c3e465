"""Complete headless Picker flows per second, in-process, on a manual and a real clock.

Each flow: create a session, the headless patient connects one source (hosted
page, portal login and consent, callback, code exchange, first pull of the
record), then presses Done. A manual clock is what tests and scenarios use; a real
one is what `connect-sim serve` gives a new workspace. Prints flows/s and the SQL
statements of one flow for each, as a table and one JSON line.

    python bench/bench_flow.py [--flows 60] [--runs 3] [--clock manual,real]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.testing import Sim  # noqa: E402

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
FLOWS = 60


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=FLOWS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clock", default="manual,real", help="clock modes, e.g. manual,real")
    args = parser.parse_args()
    results = {}
    for clock in args.clock.split(","):
        results[clock] = _measure(clock, args.flows, args.runs)
    print(f"{'headless picker flows, in-process':<36} {'clock':>6} {'flows/s':>8} {'stmt/flow':>9}")
    for clock, (rate, statements) in results.items():
        label = f"{args.flows} flows, median of {args.runs}"
        print(f"{label:<36} {clock:>6} {rate:>8.1f} {statements:>9}")
    print(
        json.dumps(
            {
                "bench": "flow",
                "flows": args.flows,
                "runs": args.runs,
                "clocks": {
                    clock: {"flows_per_s": round(rate, 1), "statements_per_flow": statements}
                    for clock, (rate, statements) in results.items()
                },
            }
        )
    )


def _measure(clock: str, flows: int, runs: int) -> tuple[float, int]:
    """The median flows/s of `runs` runs of `flows` flows, and one flow's statements."""
    rates = []
    statements: list[str] = []
    for _ in range(runs):
        with Sim() as sim:
            sim.route_outbound()
            api, _ = sim.new_workspace(seed=11, clock=clock)
            # warm-up: the first flow builds the persona's record once
            _flow(api, "warm")
            started = time.perf_counter()
            for i in range(flows):
                _flow(api, f"p{i}")
            elapsed = time.perf_counter() - started
            rates.append(flows / elapsed)
            statements = []
            sim.runtime.store.trace(statements.append)
            _flow(api, "counted")
            sim.runtime.store.trace(None)
    return statistics.median(rates), len(statements)


def _flow(api, patient_id: str) -> None:
    session = api.post(
        "/patient-sessions", {"patient_id": patient_id, "return_url": "https://app.example/r"}
    ).json
    result = api.post(
        f"/_sim/patient-sessions/{session['id']}/connect", {"source": EPIC, "username": "alice"}
    ).json
    assert result["connection"]["status"] == "active", result
    done = api.post(f"/_sim/patient-sessions/{session['id']}/done").json
    assert done["return_url"], done


if __name__ == "__main__":
    main()
