"""A crash between recording an attempt and settling its job does not fork the retry chain.

The crash is reproduced exactly: the attempt's job is put back as `recover()` finds it
after a kill -9 (running, then pending again) while the attempt itself stays recorded.
"""

from __future__ import annotations

from webhooks_support import fire_sync_failed, inbox_endpoint, received, records

from simulator.domain.webhooks import deliveries
from simulator.testing import Api, Sim


def _jobs(sim: Sim, delivery_id: str, state: str) -> list[int]:
    rows = sim.runtime.store.all(
        "SELECT id FROM jobs WHERE kind = ? AND key = ? AND state = ?",
        (deliveries.ATTEMPT_JOB, deliveries.job_key(delivery_id), state),
    )
    return [row[0] for row in rows]


def test_a_recovered_attempt_job_is_not_sent_again_and_leaves_one_retry(sim: Sim, api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    fire_sync_failed(api)
    delivery = records(api, wh["id"])[0]["id"]
    assert len(received(api, box["id"])) == 1  # attempt 1 made and recorded
    first = _jobs(sim, delivery, "done")
    assert len(first) == 1 and len(_jobs(sim, delivery, "pending")) == 1
    # kill -9 after the attempt was recorded, before its job was settled
    sim.runtime.store.execute("UPDATE jobs SET state = 'running' WHERE id = ?", (first[0],))
    assert sim.runtime.scheduler.recover() == 1

    api.advance(0)  # the recovered job is due again at once
    assert len(received(api, box["id"])) == 1  # not sent a second time
    assert len(_jobs(sim, delivery, "pending")) == 1  # one retry chain, not two

    api.advance(60)  # attempt 2 exactly one minute after attempt 1, once
    assert len(received(api, box["id"])) == 2
    assert len(_jobs(sim, delivery, "pending")) == 1
    assert records(api, wh["id"])[0]["attempts"] == 2
