"""Complete headless Picker flows per second, in-process.

Each flow: create a session, the headless patient connects one source (hosted
page, portal login and consent, callback, code exchange, first pull of the
record), then presses Done. Prints flows/s.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.testing import Sim  # noqa: E402

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"
FLOWS = 60


def main() -> None:
    with Sim() as sim:
        sim.route_outbound()
        api, _ = sim.new_workspace(seed=11)
        # warm-up: the first flow builds the persona's record once
        _flow(api, "warm")
        started = time.perf_counter()
        for i in range(FLOWS):
            _flow(api, f"p{i}")
        elapsed = time.perf_counter() - started
    print(f"headless picker flows: {FLOWS} in {elapsed:.2f} s = {FLOWS / elapsed:.1f} flows/s")


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
