"""Wall time to advance many active connections through virtual days.

Connects N patients (alice, across every portal) through the headless patient,
then advances the workspace clock day by day: token refreshes, daily re-pulls
and their events all run on the way. Prints the setup time, the wall time per
simulated day and the total, for the chosen refresh policy.

    python bench/bench_connections.py                         # 1000 x 30 days, on_demand
    python bench/bench_connections.py --policy ahead --days 1 # every token kept fresh
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.testing import Sim  # noqa: E402

SOURCES = [
    "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX",  # summit-epic
    "fhirsrc_01JGFJJZ00YVKTWEWBRM5JHM71",  # lakeside-cerner
    "fhirsrc_01JGFJJZ008CZ8AYJCKTM2F59G",  # maple-athena
    "fhirsrc_01JGFJJZ00C0F5H568M3F23ZDS",  # harbor-clinic
    "fhirsrc_01JGFJJZ00XCZKHVK1BY75Q3HZ",  # bluebutton
]
DAY = 86400


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--policy", choices=["ahead", "on_demand"], default="on_demand")
    args = parser.parse_args()

    with Sim(refresh_policy=args.policy) as sim:
        sim.route_outbound()
        api, _ = sim.new_workspace(seed=3)
        started = time.perf_counter()
        for i in range(args.connections):
            session = api.post(
                "/patient-sessions", {"patient_id": f"p{i}", "return_url": "https://app.example/r"}
            ).json
            # the harbor clinic's portal is flaky on purpose: retry the patient's attempt
            for _ in range(5):
                result = api.post(
                    f"/_sim/patient-sessions/{session['id']}/connect",
                    {"source": SOURCES[i % len(SOURCES)], "username": "alice"},
                ).json
                if result["connection"] and result["connection"]["status"] == "active":
                    break
        setup = time.perf_counter() - started
        store = sim.runtime.store
        active = store.scalar("SELECT COUNT(*) FROM connections WHERE status = 'active'")
        print(f"setup: {active} active connections in {setup:.1f} s ({args.policy} refresh)")

        per_day = []
        jobs = 0
        for _ in range(args.days):
            t = time.perf_counter()
            jobs += api.advance(DAY)["jobs_run"]
            per_day.append(time.perf_counter() - t)
        total = sum(per_day)
        refreshes = store.scalar("SELECT SUM(refresh_count) FROM connection_tokens")
        pulls = store.scalar("SELECT COUNT(*) FROM pulls WHERE status = 'completed'")
        still = store.scalar("SELECT COUNT(*) FROM connections WHERE status = 'active'")
        print(
            f"advanced {args.days} virtual days: {total:.1f} s wall"
            f" ({total / args.days:.2f} s per simulated day), {jobs} jobs,"
            f" {refreshes} refreshes, {pulls} pulls, {still} still active"
        )

        print(
            json.dumps(
                {
                    "bench": "connections",
                    "policy": args.policy,
                    "connections": active,
                    "days": args.days,
                    "setup_s": round(setup, 2),
                    "wall_s": round(total, 2),
                    "s_per_day": round(total / args.days, 3),
                    "jobs": jobs,
                    "refreshes": refreshes,
                    "pulls": pulls,
                    "still_active": still,
                }
            )
        )


if __name__ == "__main__":
    main()
