"""Run checks against a target, one fresh workspace each, and answer their results."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable

from conformance.http import Client
from conformance.registry import Check, Context
from conformance.results import CheckFailed, Omitted, Outcome, Result, Skipped
from conformance.target import Target

Progress = Callable[[Result], None]
CLEANUP = "cleanup"  # Context.extra key: (method, path) calls to undo on a shared workspace


def run_check(item: Check, target: Target, seed: int) -> Result:
    """One check: pass, fail (requirement broken), skip, omit, or error (the check crashed)."""
    start = time.perf_counter()
    api = None
    outcome, message = Outcome.PASS, ""
    try:
        if item.needs_control and not target.has_control_plane:
            raise Skipped("needs the /_sim control plane (clock, patient, inboxes, faults)")
        api = target.workspace(seed)
        if target.has_control_plane:
            _start_clock(api)
        ctx = Context(api=api, seed=seed, has_control_plane=target.has_control_plane)
        try:
            item.func(ctx)
        finally:
            if not target.has_control_plane:
                _clean_up(ctx)
    except CheckFailed as failed:
        outcome, message = Outcome.FAIL, str(failed) or "requirement not met"
    except Skipped as skipped:
        outcome, message = Outcome.SKIP, str(skipped)
    except Omitted as omitted:
        outcome, message = Outcome.OMIT, str(omitted)
    except Exception as crashed:  # noqa: BLE001 - a crashing check is reported, not raised
        tail = traceback.format_exception(crashed)[-3:]
        outcome, message = Outcome.ERROR, f"{type(crashed).__name__}: {crashed}\n{''.join(tail)}"
    return Result(
        id=item.id,
        area=item.area,
        requirement=item.requirement,
        source=item.source,
        outcome=outcome,
        message=message,
        exchanges=list(api.exchanges) if api is not None else [],
        duration_s=round(time.perf_counter() - start, 4),
    )


def _start_clock(api: Client) -> None:
    """Note the workspace's virtual time, so the report can place what the check saw."""
    reply = api.call("GET", "/_sim/clock")
    if reply.status == 200 and isinstance(reply.json, dict):
        api.virtual_time = reply.json.get("now")


def _clean_up(ctx: Context) -> None:
    """On a shared workspace, delete what the check asked to (webhook endpoints are capped)."""
    for method, path in reversed(ctx.extra.get(CLEANUP, [])):
        try:
            ctx.api.call(method, path)
        except Exception:  # noqa: BLE001 - cleaning up never turns a result into an error
            continue


def run(
    checks: list[Check], target: Target, seed: int = 0, progress: Progress | None = None
) -> list[Result]:
    """Each check on a fresh workspace of `target`, in order; `progress` hears each result."""
    results = []
    for index, item in enumerate(checks):
        result = run_check(item, target, seed * 1000 + index)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
