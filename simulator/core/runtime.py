"""The runtime: store, clocks, scheduler, hooks, catalog and outbound HTTP for one process.

One Runtime is shared by the Connect API app, the control plane and the mock
portals. It knows no domain module: the composition root (`simulator.compose`)
creates the domain tables, registers the job handlers and subscribes the hook
listeners on it, then calls `start`. The core tables (workspaces, jobs) are
created here.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import requests

from simulator.core import ids, jobs, workspaces
from simulator.core.backends import open_store
from simulator.core.background import Background
from simulator.core.clock import Clocks
from simulator.core.config import Config
from simulator.core.hooks import Hooks
from simulator.core.jobs import RECOVER_EVERY_S, Scheduler
from simulator.core.memo import Memo
from simulator.core.sources import Catalog
from simulator.core.timeutil import wall_ms as _wall_ms
from simulator.core.transport import Session, WsgiAdapter, WsgiApp

log = logging.getLogger(__name__)

CORE_SCHEMAS = (workspaces.SCHEMA, jobs.SCHEMA)
CORE_COLUMNS = (*workspaces.COLUMNS, *jobs.COLUMNS)


class Runtime:
    def __init__(self, config: Config | None = None, wall: Callable[[], int] = _wall_ms) -> None:
        self.config = config or Config()
        self.wall = wall
        self.store = open_store(
            self.config.db_path, CORE_SCHEMAS, CORE_COLUMNS, shared=self.config.shared_db
        )
        self.clocks = Clocks(self.store, wall)
        self.scheduler = Scheduler(self.store, self.clocks, owner=self)
        self.hooks = Hooks()
        self.memo = Memo()  # facts that never change once stored (core/memo.py)
        self.background = Background()
        self.catalog = Catalog.load(self.config.base_url, self.config.catalog_path)
        self.http = Session()
        self.http.trust_env = False  # no proxy or netrc lookup on every outbound call
        self.base_url = self.config.base_url.rstrip("/")
        self.scheduler.recover()
        with self.store.exclusive("default-workspace"):  # instances starting together
            self.default_workspace, self.default_api_key = workspaces.ensure_default(
                self.store,
                wall_ms=wall(),
                seed=self.config.default_seed,
                clock_mode=self.config.default_clock,
                api_key=self.config.default_api_key,
            )
        self._ticker: Ticker | None = None
        # Set once the process starts stopping: waits that must not hold up a drain end.
        self.stopping = threading.Event()

    def answer_in_process(self, app: WsgiApp) -> None:
        """Send the process's outbound calls to its own base URL straight to `app`.

        The simulator's calls to its own portals, pages and inboxes then take no
        socket and no server worker; every other URL is still real HTTP.
        """
        self.http.mount(self.base_url + "/", WsgiAdapter(app))

    def browser_session(self) -> requests.Session:
        """A fresh cookie jar over the runtime's transports (for the headless patient)."""
        session = Session()
        session.trust_env = False
        session.adapters = self.http.adapters  # shared: never close this session
        return session

    def start(self) -> None:
        """Begin background work (the real-mode ticker, when configured), once wired."""
        if self.config.start_ticker:
            self.start_ticker()

    # -- time and identity ----------------------------------------------------

    def now(self, ws_id: str) -> int:
        return self.clocks.now(ws_id)

    def new_id(self, ws_id: str, prefix: str) -> tuple[str, int]:
        """A fresh id for the workspace and its sequence number (for ordering)."""
        seq, seed = workspaces.next_sequence(self.store, ws_id)
        return ids.make_id(prefix, seed, seq), seq

    def seed_of(self, ws_id: str) -> int:
        """The workspace's seed. It is fixed when the workspace is made (a reset keeps it),
        so it is read once and remembered (`memo`). Raises KeyError for no workspace."""
        key = ("workspace_seed", ws_id)
        seed = self.memo.get(key)
        if seed is None:
            seed = workspaces.get(self.store, ws_id).seed
            self.memo.keep(key, seed)
        return seed

    def rng(self, ws_id: str, *labels: object) -> random.Random:
        """A random generator fixed by the workspace seed and the labels."""
        seed = self.seed_of(ws_id)
        return random.Random(int.from_bytes(ids.seeded_bytes(seed, "rng", *labels)[:8], "big"))

    # -- background ticker ---------------------------------------------------------

    def start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = Ticker(self, self.config.tick_interval)
            self._ticker.start()

    def stop_background(self, timeout: float = 30.0) -> bool:
        """Stop the ticker, letting a job it is running finish, and ask background work
        (clock moves run with `"wait": false`) to stop after its current job.

        Answers whether the background work ended within `timeout` seconds."""
        self.stopping.set()
        if self._ticker is not None:
            self._ticker.stop()
            self._ticker = None
        return self.background.stop(timeout)

    def close(self) -> None:
        self.stop_background()
        self.http.close()
        self.store.close()


class Ticker(threading.Thread):
    """Runs due jobs of every workspace whose clock is in `real` mode.

    Each tick reads the wakeup index for the workspaces with work due (idle ones are
    never read) and runs each one it can lock; a workspace another thread or
    instance is running is skipped (that runner goes on until nothing is due). So
    the tickers of several instances on one database share the work. On a shared
    database it also gives back, every `RECOVER_EVERY_S`, jobs whose lease ran out.
    """

    def __init__(self, runtime: Runtime, interval: float) -> None:
        super().__init__(name="connect-sim-ticker", daemon=True)
        self.runtime = runtime
        self.interval = interval
        self._stop_event = threading.Event()
        self._recovered_at = time.monotonic()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                self.tick()
            except Exception:  # keep ticking whatever one workspace does
                log.exception("ticker failed")

    def tick(self) -> int:
        """Run the due work of the real-clock workspaces that have some (found in one query)."""
        ran = 0
        scheduler = self.runtime.scheduler
        if scheduler.store.shared and time.monotonic() - self._recovered_at >= RECOVER_EVERY_S:
            self._recovered_at = time.monotonic()
            scheduler.recover()
        for ws_id in scheduler.due_workspaces(self.runtime.wall()):
            if self._stop_event.is_set():
                break
            ran_here = scheduler.try_run_due(ws_id)
            if ran_here == 0:  # an early wakeup (its job was cancelled): write it afresh
                scheduler.rewake(ws_id)
            ran += ran_here
        return ran

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)
