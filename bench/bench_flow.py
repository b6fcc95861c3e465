"""Complete headless Picker flows per second, in-process.

Each flow: create a session, the headless patient connects one source (hosted
page, portal login and consent, callback, code exchange, first pull of the
record), then presses Done. Prints flows/s.
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
    args = parser.parse_args()
    rates = []
    for _ in range(args.runs):
        with Sim() as sim:
            sim.route_outbound()
            api, _ = sim.new_workspace(seed=11)
            # warm-up: the first flow builds the persona's record once
            _flow(api, "warm")
            started = time.perf_counter()
            for i in range(args.flows):
                _flow(api, f"p{i}")
            elapsed = time.perf_counter() - started
            rates.append(args.flows / elapsed)
            statements = []
            sim.runtime.store.trace(statements.append)
            _flow(api, "counted")
            sim.runtime.store.trace(None)
    rate = statistics.median(rates)
    print(f"{'headless picker flows, in-process':<36} {'flows/s':>8} {'stmt/flow':>9}")
    print(f"{f'{args.flows} flows, median of {args.runs}':<36} {rate:>8.1f} {len(statements):>9}")
    print(
        json.dumps(
            {
                "bench": "flow",
                "flows": args.flows,
                "runs": args.runs,
                "flows_per_s": round(rate, 1),
                "statements_per_flow": len(statements),
            }
        )
    )


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
