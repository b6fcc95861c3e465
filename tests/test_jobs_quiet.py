"""On a real clock, a request that finds nothing due looks again only when a job can be.

A run that finds nothing due remembers it up to just before the earliest pending job;
until then a changing request looks for no job. A job scheduled earlier than that, or
the wall reaching the pending job, makes the next changing request look (and run it).
"""

from __future__ import annotations

from werkzeug.test import Client

from simulator.compose import build_runtime
from simulator.core.config import Config
from simulator.testing import Api
from simulator.web.app import create_app

KIND = "test.quiet"
KEY = "mb_sk_sbx_quiet_real_clock"


class World:
    def __init__(self) -> None:
        self.wall = [1_800_000_000_000]
        self.rt = build_runtime(
            Config(default_clock="real", default_api_key=KEY), wall=lambda: self.wall[0]
        )
        self.api = Api(Client(create_app(self.rt)), KEY)
        self.ran: list[int] = []
        self.rt.scheduler.register(KIND, lambda rt, job: self.ran.append(job.id))
        self.ws = self.rt.store.scalar("SELECT id FROM workspaces WHERE is_default = 1")
        self.patients = 0

    def change(self) -> list[str]:
        """A changing request; answers the statements it ran."""
        self.patients += 1
        seen: list[str] = []
        self.rt.store.trace(seen.append)
        try:
            resp = self.api.post("/patients", {"patient_id": f"p{self.patients}"})
        finally:
            self.rt.store.trace(None)
        assert resp.status_code == 200, resp.json
        return seen

    def close(self) -> None:
        self.rt.close()


def _looked_for_jobs(seen: list[str]) -> bool:
    return any(s.startswith("UPDATE jobs") for s in seen)


def test_nothing_due_until_the_pending_job_then_it_runs() -> None:
    w = World()
    try:
        later = w.rt.scheduler.schedule(w.ws, KIND, w.rt.now(w.ws) + 60_000)
        w.change()  # looks, finds nothing due, remembers until the job's due time
        w.wall[0] += 30_000
        assert not _looked_for_jobs(w.change())
        w.wall[0] += 29_999
        assert not _looked_for_jobs(w.change())
        assert w.ran == []
        w.wall[0] += 1  # the job is due
        assert _looked_for_jobs(w.change())
        assert w.ran == [later]
    finally:
        w.close()


def test_a_job_scheduled_before_the_pending_one_runs_on_the_next_request() -> None:
    w = World()
    try:
        later = w.rt.scheduler.schedule(w.ws, KIND, w.rt.now(w.ws) + 3_600_000)
        w.change()
        assert not _looked_for_jobs(w.change())
        sooner = w.rt.scheduler.schedule(w.ws, KIND, w.rt.now(w.ws) + 1_000)
        w.wall[0] += 1_000
        w.change()
        assert w.ran == [sooner]
        w.wall[0] += 3_600_000
        w.change()
        assert w.ran == [sooner, later]
    finally:
        w.close()


def test_with_nothing_pending_a_new_job_due_now_still_runs() -> None:
    w = World()
    try:
        w.change()
        w.wall[0] += 86_400_000  # a day later, nothing was pending: still nothing to look for
        assert not _looked_for_jobs(w.change())
        job = w.rt.scheduler.schedule(w.ws, KIND, w.rt.now(w.ws))
        w.change()
        assert w.ran == [job]
    finally:
        w.close()
