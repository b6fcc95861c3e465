"""`connect-sim clock …`, `workspace …` and `trigger`: a running simulator's control plane.

They talk HTTP to `--base-url` (or `CONNECT_SIM_BASE_URL`, default
http://127.0.0.1:8700) with `--api-key` (or `CONNECT_SIM_API_KEY`), like any client.
A clock move runs as a background operation (`"wait": false`) that is polled, with a
progress bar on a terminal (plain progress lines otherwise, none with `--json`);
Ctrl-C cancels it.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import click
import requests
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from scenarios.durations import DurationError, parse_duration

DEFAULT_BASE_URL = "http://127.0.0.1:8700"
TIMEOUT_S = 3600.0  # an advance may run many jobs
POLL_S = 0.2  # wall time between two polls of a running clock operation


class Remote:
    """One simulator, one workspace key; every answer checked."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key

    def call(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        headers = {}
        if auth:
            if not self.api_key:
                raise click.UsageError("an API key is needed: --api-key or CONNECT_SIM_API_KEY")
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            resp = requests.request(
                method, self.base_url + path, json=body, headers=headers, timeout=TIMEOUT_S
            )
        except requests.RequestException as exc:
            raise click.ClickException(
                f"cannot reach {self.base_url} ({type(exc).__name__}): is `connect-sim serve` running?"
            ) from None
        try:
            answer = resp.json()
        except ValueError:
            answer = None
        if not resp.ok:
            error = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
            detail = error.get("message") or resp.text[:200]
            raise click.ClickException(f"{resp.status_code} {error.get('code', '')}: {detail}")
        return answer


def remote_options(func: Callable[..., None]) -> Callable[..., None]:
    func = click.option(
        "--api-key", envvar="CONNECT_SIM_API_KEY", default=None, help="the workspace's API key"
    )(func)
    return click.option(
        "--base-url",
        envvar="CONNECT_SIM_BASE_URL",
        default=DEFAULT_BASE_URL,
        show_default=True,
        help="the running simulator",
    )(func)


def _emit(answer: Any, as_json: bool, text: str) -> None:
    click.echo(json.dumps(answer, indent=2) if as_json else text)


def _moved(answer: dict[str, Any]) -> str:
    stopped = " (cancelled)" if answer.get("cancelled") else ""
    return f"{answer['now']}  {answer['mode']} clock, {answer['jobs_run']} jobs run{stopped}"


def _progress_line(op: dict[str, Any]) -> str:
    return (
        f"{op['kind']}: {op['progress'] * 100:5.1f}%  {op['virtual_time']}"
        f"  {op['jobs_run']} jobs run"
    )


def _follow(remote: Remote, op: dict[str, Any], as_json: bool) -> dict[str, Any]:
    """Poll a clock operation until it ends, showing its progress on stderr."""
    where = f"/_sim/operations/{op['id']}"
    err = Console(stderr=True)
    if as_json or not err.is_terminal:
        last = ""
        while op["status"] == "running":
            line = _progress_line(op)
            if not as_json and line != last:
                click.echo(line, err=True)
                last = line
            time.sleep(POLL_S)
            op = remote.call("GET", where)
        return op
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[virtual]}  {task.fields[jobs]} jobs"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(op["kind"], total=1.0, virtual=op["virtual_time"], jobs=0)
        while op["status"] == "running":
            time.sleep(POLL_S)
            op = remote.call("GET", where)
            bar.update(
                task, completed=op["progress"], virtual=op["virtual_time"], jobs=op["jobs_run"]
            )
    return op


def _move(remote: Remote, path: str, body: dict[str, Any], as_json: bool) -> None:
    """Start the move in the background, follow it, print where the clock ended.

    Ctrl-C cancels the operation (after its current job) and says where it stopped."""
    op = remote.call("POST", path, {**body, "wait": False})
    try:
        op = _follow(remote, op, as_json)
        interrupted = False
    except KeyboardInterrupt:
        interrupted = True
        op = remote.call("POST", f"/_sim/operations/{op['id']}/cancel")
        while op["status"] == "running":
            time.sleep(POLL_S)
            op = remote.call("GET", f"/_sim/operations/{op['id']}")
    if op["status"] == "failed":
        raise click.ClickException(f"{op['failure_code']}: {op['failure_message']}")
    answer: dict[str, Any] = {
        "now": op["virtual_time"],
        "mode": remote.call("GET", "/_sim/clock")["mode"],
        "jobs_run": op["jobs_run"],
    }
    if op["status"] == "cancelled":
        answer["cancelled"] = True
    _emit(answer, as_json, _moved(answer))
    if interrupted:
        sys.exit(130)


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="print the JSON answer")


@click.group()
def clock() -> None:
    """Read and move a workspace's virtual clock."""


@clock.command("show")
@remote_options
@JSON_OPTION
def clock_show(base_url: str, api_key: str | None, as_json: bool) -> None:
    """The workspace's clock: mode and now."""
    answer = Remote(base_url, api_key).call("GET", "/_sim/clock")
    _emit(answer, as_json, f"{answer['now']}  {answer['mode']} clock")


@clock.command("advance")
@click.argument("duration")
@remote_options
@JSON_OPTION
def clock_advance(duration: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Move the clock forward by DURATION (90s, 2h, 30d, 1d2h…), running every job due."""
    try:
        seconds = parse_duration(duration) / 1000
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    _move(Remote(base_url, api_key), "/_sim/clock/advance", {"seconds": seconds}, as_json)


@clock.command("set")
@click.argument("instant")
@remote_options
@JSON_OPTION
def clock_set(instant: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Move the clock forward to INSTANT (ISO 8601, e.g. 2030-01-01T00:00:00Z)."""
    _move(Remote(base_url, api_key), "/_sim/clock/set", {"now": instant}, as_json)


@clock.command("run-until-idle")
@click.option("--max", "limit", default="7d", show_default=True, help="how far ahead at most")
@remote_options
@JSON_OPTION
def clock_run_until_idle(limit: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Run jobs one after another until none is due within --max."""
    try:
        seconds = parse_duration(limit) / 1000
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--max") from None
    _move(
        Remote(base_url, api_key), "/_sim/clock/run-until-idle", {"max_seconds": seconds}, as_json
    )


@click.group()
def workspace() -> None:
    """Make, read and reset workspaces."""


@workspace.command("new")
@click.option("--seed", type=int, default=None, help="the workspace seed (ids and data)")
@click.option("--clock", "mode", type=click.Choice(["manual", "real"]), default="manual")
@click.option(
    "--naming",
    type=click.Choice(["C", "B", "A"]),
    default="C",
    help="the API generation it speaks (B: /patient-flows, A: /sessions)",
)
@click.option("--strict", is_flag=True, help="refuse unknown fields, empty query values, ...")
@remote_options
@JSON_OPTION
def workspace_new(
    seed: int | None,
    mode: str,
    naming: str,
    strict: bool,
    base_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """A fresh, isolated workspace; its API key is shown only now."""
    body: dict[str, Any] = {"clock": mode, "naming": naming, "strict": strict}
    if seed is not None:
        body["seed"] = seed
    answer = Remote(base_url, api_key).call("POST", "/_sim/workspaces", body, auth=False)
    _emit(
        answer,
        as_json,
        f"workspace {answer['id']} (seed {answer['seed']}, {mode} clock, naming {naming}"
        f"{', strict' if strict else ''})\n"
        f"export CONNECT_SIM_API_KEY={answer['api_key']}",
    )


@workspace.command("show")
@remote_options
@JSON_OPTION
def workspace_show(base_url: str, api_key: str | None, as_json: bool) -> None:
    """The workspace of the API key."""
    answer = Remote(base_url, api_key).call("GET", "/_sim/workspace")
    text = (
        f"workspace {answer['id']} (seed {answer['seed']}): "
        f"{answer['clock']['now']} {answer['clock']['mode']} clock"
    )
    _emit(answer, as_json, text)


@workspace.command("reset")
@remote_options
@JSON_OPTION
def workspace_reset(base_url: str, api_key: str | None, as_json: bool) -> None:
    """Delete everything in the workspace; its key, seed and clock mode stay."""
    answer = Remote(base_url, api_key).call("POST", "/_sim/reset")
    _emit(answer, as_json, f"workspace {answer['id']} is empty again")


@click.command()
@click.argument("event")
@click.option(
    "--object",
    "object_id",
    required=True,
    help="the existing object the event is about: a patient session (ps_…) for"
    " patient_session.completed, a connection (conn_…) for the others",
)
@remote_options
@JSON_OPTION
def trigger(event: str, object_id: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Fire a real EVENT for an existing object; it is delivered to every subscribed endpoint.

    EVENT is patient_session.completed, connection.token_refresh_failed,
    records.sync.completed or records.sync.failed."""
    answer = Remote(base_url, api_key).call(
        "POST", "/_sim/events", {"type": event, "object_id": object_id}
    )
    deliveries = answer["deliveries"]
    lines = [f"{answer['type']} fired for {object_id} ({answer['id']})"]
    lines += [f"  -> {d['id']} to endpoint {d['webhook_endpoint_id']}" for d in deliveries]
    if not deliveries:
        lines.append("  no endpoint subscribes to it (connect-sim listen shows it all the same)")
    _emit(answer, as_json, "\n".join(lines))
