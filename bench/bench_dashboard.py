"""Dashboard pages per second, in-process, for a workspace full of objects.

Builds one workspace with N connected sessions (each with its pulls and events) and a
webhook endpoint whose receiver always fails, moves its clock a day so every delivery
has its retries, then renders `/dashboard/<ws_id>` (every list at its display limit)
through the Werkzeug test client, and the sign-in page for comparison. Bounded by a
request count and a time budget per measurement.

    .venv/bin/python bench/bench_dashboard.py [--connections N] [--requests N] [--seconds S]
"""

from __future__ import annotations

import argparse

from benchkit import Report

from simulator.testing import Sim
from simulator.web.dashboard import COOKIE

RETURN_URL = "https://app.example/done"
EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20, help="connected sessions")
    parser.add_argument("--requests", type=int, default=200, help="pages per measurement")
    parser.add_argument("--seconds", type=float, default=5.0, help="time budget per measurement")
    args = parser.parse_args()
    with Sim() as sim:
        api, created = sim.new_workspace(seed=1)
        inbox = api.post("/_sim/inboxes", {"status": 500}).json
        assert api.post("/webhooks", {"url": inbox["url"], "events": ["*"]}).status_code == 200
        for i in range(args.connections):
            session = api.post(
                "/patient-sessions", {"patient_id": f"bench-{i}", "return_url": RETURN_URL}
            ).json
            body = {"username": "alice", "consent": "approve", "source": EPIC}
            assert (
                api.post(f"/_sim/patient-sessions/{session['id']}/connect", body).status_code == 200
            )
            assert api.post(f"/_sim/patient-sessions/{session['id']}/done").status_code == 200
        api.advance(86400)
        ws_id = created["id"]
        client = sim.client
        resp = client.post("/dashboard/sign-in", data={"api_key": created["api_key"]})
        assert resp.status_code == 303 and client.get_cookie(COOKIE, path=f"/dashboard/{ws_id}")
        page = client.get(f"/dashboard/{ws_id}")
        assert page.status_code == 200
        size = len(page.get_data())
        attempts = page.get_data(as_text=True).count('<tr class="attempt')

        def workspace(i: int) -> None:
            assert client.get(f"/dashboard/{ws_id}").status_code == 200

        def sign_in_page(i: int) -> None:
            assert client.get("/").status_code == 200

        print(
            f"connect-sim dashboard in-process: {args.connections} connections,"
            f" {attempts} delivery attempts shown, page {size // 1024} KiB"
        )
        report = Report("dashboard", unit="pages/s")
        report.measure("GET / (sign-in page)", sign_in_page, args.requests, args.seconds)
        report.measure("GET /dashboard/{ws_id}", workspace, args.requests, args.seconds)
        report.add("page_bytes", size)
        report.add("attempts_shown", attempts)
        report.json(connections=args.connections)


if __name__ == "__main__":
    main()
