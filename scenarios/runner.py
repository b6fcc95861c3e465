"""Run validated scenarios: a fresh workspace each, steps in order, a result per scenario."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from scenarios.client import HttpTransport, SimClient, Transport, WsgiTransport
from scenarios.results import Failure, ScenarioResult, StepResult
from scenarios.schema import STEP_KINDS
from scenarios.steps import RUNNERS, Context, StepError, StepFailed, inbox_arrivals, load_catalog
from scenarios.validation import Scenario

DEFAULT_START = "2030-01-01T00:00:00Z"
RECENT = 5


@dataclass
class RunOptions:
    base_url: str | None = None
    api_key: str | None = None
    jobs: int = 1


def step_kind(step: dict[str, Any]) -> str:
    kinds = [k for k in step if k in STEP_KINDS]
    return next((k for k in kinds if k != "expect"), kinds[0])


def step_label(step: dict[str, Any]) -> str:
    if "name" in step:
        return str(step["name"])
    kind = step_kind(step)
    value = step[kind]
    if isinstance(value, str):
        return f"{kind} {value}"
    if isinstance(value, dict) and value:
        first = next(iter(value))
        detail = value[first]
        return f"{kind} {first}" + (f" {detail}" if isinstance(detail, str | int) else "")
    return kind


@contextmanager
def in_process_transport() -> Iterator[Transport]:
    """A whole simulator in this process, reached through its WSGI app."""
    from simulator.testing import Sim

    sim = Sim()
    try:
        yield WsgiTransport(sim.wsgi, sim.base_url)
    finally:
        sim.close()


def _timeline(client: SimClient, endpoints: list[str]) -> list[dict[str, Any]]:
    """Session and connection states and webhook attempts, in virtual time."""
    entries: list[dict[str, Any]] = []
    cursor = None
    events: list[dict[str, Any]] = []
    while True:
        query: dict[str, Any] = {"limit": 100}
        if cursor:
            query["starting_after"] = cursor
        page = client.ok("GET", "/_sim/events", query=query, record=False)
        events += page["data"]
        if not page.get("has_more"):
            break
        cursor = page["next_cursor"]
    for event in reversed(events):
        obj = (event.get("data") or {}).get("object") or {}
        kind = event["type"].split(".")[0]
        lane = "connection" if kind in ("connection", "records") else "session"
        entries.append(
            {
                "at": event["created_at"],
                "lane": lane,
                "object_id": obj.get("id") or obj.get("connection_id"),
                "event": event["type"],
                "event_id": event["id"],
                "state": obj.get("status") or event["type"].split(".", 1)[1],
            }
        )
    for endpoint in endpoints:
        resp = client.call(
            "GET", f"/_sim/webhooks/{endpoint}/attempts", query={"limit": 100}, record=False
        )
        if resp.status != 200:
            continue
        for att in reversed(resp.json["data"]):
            entries.append(
                {
                    "at": att["attempted_at"],
                    "lane": "webhook",
                    "object_id": endpoint,
                    "event": att["event_id"],
                    "event_id": att["event_id"],
                    "state": f"attempt {att['attempt']}: "
                    + (str(att["status_code"]) if att["status_code"] else str(att["error"])),
                    "succeeded": att["succeeded"],
                }
            )
    entries.sort(key=lambda e: e["at"])
    return entries


def _recent_webhooks(ctx: Context) -> list[dict[str, Any]]:
    arrivals: list[dict[str, Any]] = []
    for inbox_id in ctx.inboxes.values():
        try:
            arrivals += inbox_arrivals(ctx, inbox_id)
        except Exception:  # the failure is more useful than a missing context line
            continue
    arrivals.sort(key=lambda a: a.get("received_at") or "")
    return [
        {k: a.get(k) for k in ("received_at", "event_type", "event_id", "response_status")}
        | {"signature": a.get("signature") or {}}
        for a in arrivals[-RECENT:]
    ]


def run_scenario(
    scenario: Scenario, transport: Transport, api_key: str | None = None
) -> ScenarioResult:
    """Run one scenario in a fresh workspace on `transport`."""
    wall0 = time.perf_counter()
    client = SimClient(transport, api_key)
    result = ScenarioResult(
        name=scenario.name,
        file=scenario.file,
        tags=scenario.tags,
        seed=scenario.seed,
        status="passed",
    )
    ws = scenario.data.get("workspace") or {}
    settings = {name: ws[name] for name in ("naming", "strict") if name in ws}
    client.create_workspace(scenario.seed, ws.get("clock", "manual"), **settings)
    start = ws.get("start", DEFAULT_START)
    if start:
        client.ok("POST", "/_sim/clock/set", {"now": start}, record=False)
    ctx = Context(client)
    load_catalog(ctx)
    result.virtual_start = client.now()
    for index, step in enumerate(scenario.steps):
        kind = step_kind(step)
        base = ("steps", index)
        line, _ = scenario.doc.where((*base, kind), key=True)
        client.step = index
        client.virtual_time = client.now()
        before = len(client.history)
        t0 = time.perf_counter()
        outcome = StepResult(index, kind, step_label(step), line, "passed")
        try:
            RUNNERS[kind](ctx, step, base)
        except (StepFailed, StepError) as exc:
            outcome.status = "failed" if isinstance(exc, StepFailed) else "error"
            outcome.message = exc.message
            path = exc.path or (*base, kind)
            fline, fcol = scenario.doc.where(path, key=path == (*base, kind))
            result.status = outcome.status
            result.failure = Failure(
                file=scenario.file,
                line=fline,
                column=fcol,
                step=index,
                message=exc.message,
                expected=getattr(exc, "expected", None),
                seen=getattr(exc, "seen", None),
                virtual_time=client.now(),
                requests=client.history[-RECENT:],
                webhooks=_recent_webhooks(ctx),
            )
        except Exception as exc:  # a transport or server problem: an error, not a failure
            outcome.status = "error"
            outcome.message = f"{type(exc).__name__}: {exc}"
            result.status = "error"
            result.failure = Failure(
                file=scenario.file,
                line=line,
                column=1,
                step=index,
                message=outcome.message,
                virtual_time=client.virtual_time,
                requests=client.history[-RECENT:],
            )
        outcome.wall_ms = (time.perf_counter() - t0) * 1000
        outcome.requests = client.history[before:]
        try:
            outcome.virtual_time = client.now()
        except Exception:
            outcome.virtual_time = client.virtual_time
        result.steps.append(outcome)
        if result.failure is not None:
            for rest in range(index + 1, len(scenario.steps)):
                later = scenario.steps[rest]
                k = step_kind(later)
                rline, _ = scenario.doc.where(("steps", rest, k), key=True)
                result.steps.append(StepResult(rest, k, step_label(later), rline, "skipped"))
            break
    try:
        result.virtual_end = client.now()
        result.timeline = _timeline(client, ctx.endpoints)
    except Exception:  # keep the result even when the server went away
        pass
    result.wall_ms = (time.perf_counter() - wall0) * 1000
    return result


def run_all(
    scenarios: list[Scenario],
    options: RunOptions | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> list[ScenarioResult]:
    """Every scenario, each in its own workspace; results in the order given."""
    opts = options or RunOptions()
    jobs = max(1, min(opts.jobs, len(scenarios) or 1))
    results: list[ScenarioResult | None] = [None] * len(scenarios)
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        if opts.base_url:  # one HTTP session per worker thread
            if getattr(local, "transport", None) is None:
                local.transport = HttpTransport(opts.base_url)
            res = run_scenario(scenarios[i], local.transport, opts.api_key)
        else:  # a fresh simulator per scenario: nothing is shared between scenarios
            with in_process_transport() as transport:
                res = run_scenario(scenarios[i], transport, opts.api_key)
        results[i] = res
        if on_result is not None:
            with lock:
                on_result(res)

    if jobs == 1:
        for i in range(len(scenarios)):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, range(len(scenarios))))
    return [r for r in results if r is not None]
