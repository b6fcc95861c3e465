"""The composition root: the one place that builds a runtime and wires every part.

Read it as three tables:

* `SCHEMAS`: the tables of each domain module, created on the runtime's store
  (the core creates its own; the mock portals create theirs when mounted);
* `JOB_HANDLERS`: each kind of timed job and the function that runs it;
* `SUBSCRIBERS`: each domain signal and who hears it, in the order they are called.

`build_runtime(config)` applies them to a fresh `Runtime`; `build_wsgi(runtime)`
mounts the simulator's Flask app and every mock portal under one WSGI app;
`build(config)` does both (what `connect-sim serve` and `simulator.testing` run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware

import portal_mocks
from portal_mocks.web import control as portal_control
from portal_mocks.web import personas as portal_personas
from simulator.core import api_keys, plans
from simulator.core.config import Config
from simulator.core.jobs import Handler
from simulator.core.runtime import Runtime
from simulator.core.store import Column
from simulator.core.timeutil import wall_ms
from simulator.domain import (
    api_faults,
    attempts,
    connections,
    keepalive,
    launch_contexts,
    operations,
    outside_sources,
    patients,
    pulls,
    records,
    registrations,
    sessions,
)
from simulator.domain.webhooks import deliveries, endpoints, inboxes, occurrences
from simulator.web.app import create_app

PORTALS_PREFIX = "/portals"

SCHEMAS: tuple[str, ...] = (
    patients.SCHEMA,
    sessions.SCHEMA,
    connections.SCHEMA,
    attempts.SCHEMA,
    registrations.SCHEMA,
    pulls.SCHEMA,
    records.SCHEMA,
    api_faults.SCHEMA,
    api_keys.SCHEMA,
    launch_contexts.SCHEMA,
    outside_sources.SCHEMA,
    endpoints.SCHEMA,
    occurrences.SCHEMA,
    deliveries.SCHEMA,
    inboxes.SCHEMA,
    operations.SCHEMA,
)

# Columns added to those tables after they first shipped (older store files get them).
COLUMNS: tuple[Column, ...] = pulls.COLUMNS + api_faults.COLUMNS + plans.COLUMNS

JOB_HANDLERS: tuple[tuple[str, Handler], ...] = (
    (sessions.EXPIRE_JOB, sessions.expire_job),
    (keepalive.REFRESH_JOB, keepalive.refresh_job),
    (keepalive.LAPSE_JOB, keepalive.lapse_job),
    (pulls.PULL_JOB, pulls.pull_job),
    (deliveries.ATTEMPT_JOB, deliveries.attempt_job),
)

SUBSCRIBERS: tuple[tuple[str, Callable[..., None]], ...] = (
    # An expired session's attempts still at the portal can no longer activate.
    (sessions.EXPIRED, attempts.expire_in_flight),
    # A new connection: keep its access alive, then pull its records.
    (attempts.ACTIVATED, keepalive.on_activate),
    (attempts.ACTIVATED, pulls.on_activate),
    # Access ended: no more refreshes or pulls.
    (attempts.DISCONNECTED, keepalive.on_disconnect),
    (attempts.DISCONNECTED, pulls.stop),
    (keepalive.ACCESS_LOST, pulls.stop),
)


def wire(rt: Runtime) -> Runtime:
    """Create the domain tables, register job handlers and subscribers on `rt`, and settle
    what a stopped process left half done."""
    rt.store.ensure_schema(SCHEMAS, COLUMNS)
    for kind, handler in JOB_HANDLERS:
        rt.scheduler.register(kind, handler)
    for signal, subscriber in SUBSCRIBERS:
        rt.hooks.subscribe(signal, subscriber)
    # A background clock move a stopped process left running never finishes: interrupted.
    # On a database other instances share, a running move may be another live instance's,
    # so it is left alone there.
    if not rt.store.shared:
        operations.interrupt_running(rt.store, rt.wall())
    return rt


def build_runtime(config: Config | None = None, wall: Callable[[], int] = wall_ms) -> Runtime:
    """A wired runtime with its background work started."""
    rt = wire(Runtime(config, wall=wall))
    rt.start()
    return rt


def build_wsgi(rt: Runtime) -> Any:
    """The simulator's app with every mock portal mounted under `/portals`.

    The runtime's own outbound calls to its base URL are answered by this app in
    process (no socket, no server worker).
    """
    sim = create_app(rt, blueprints=(portal_control.bp, portal_personas.bp))
    wsgi = DispatcherMiddleware(sim, {PORTALS_PREFIX: portal_mocks.create_wsgi(rt)})
    rt.answer_in_process(wsgi)
    return wsgi


def build(config: Config | None = None) -> tuple[Runtime, Any]:
    rt = build_runtime(config)
    return rt, build_wsgi(rt)
