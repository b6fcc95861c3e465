"""`connect-sim clock …` and `connect-sim workspace …`: a running simulator's control plane.

They talk HTTP to `--base-url` (or `CONNECT_SIM_BASE_URL`, default
http://127.0.0.1:8700) with `--api-key` (or `CONNECT_SIM_API_KEY`), like any client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
import requests

from scenarios.durations import DurationError, parse_duration

DEFAULT_BASE_URL = "http://127.0.0.1:8700"
TIMEOUT_S = 3600.0  # an advance may run many jobs


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


def _remote(func: Callable[..., None]) -> Callable[..., None]:
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


_JSON = click.option("--json", "as_json", is_flag=True, help="print the JSON answer")


@click.group()
def clock() -> None:
    """Read and move a workspace's virtual clock."""


@clock.command("show")
@_remote
@_JSON
def clock_show(base_url: str, api_key: str | None, as_json: bool) -> None:
    """The workspace's clock: mode and now."""
    answer = Remote(base_url, api_key).call("GET", "/_sim/clock")
    _emit(answer, as_json, f"{answer['now']}  {answer['mode']} clock")


@clock.command("advance")
@click.argument("duration")
@_remote
@_JSON
def clock_advance(duration: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Move the clock forward by DURATION (90s, 2h, 30d, 1d2h…), running every job due."""
    try:
        seconds = parse_duration(duration) / 1000
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    answer = Remote(base_url, api_key).call("POST", "/_sim/clock/advance", {"seconds": seconds})
    _emit(answer, as_json, _moved(answer))


@clock.command("set")
@click.argument("instant")
@_remote
@_JSON
def clock_set(instant: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Move the clock forward to INSTANT (ISO 8601, e.g. 2030-01-01T00:00:00Z)."""
    answer = Remote(base_url, api_key).call("POST", "/_sim/clock/set", {"now": instant})
    _emit(answer, as_json, _moved(answer))


@clock.command("run-until-idle")
@click.option("--max", "limit", default="7d", show_default=True, help="how far ahead at most")
@_remote
@_JSON
def clock_run_until_idle(limit: str, base_url: str, api_key: str | None, as_json: bool) -> None:
    """Run jobs one after another until none is due within --max."""
    try:
        seconds = parse_duration(limit) / 1000
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--max") from None
    answer = Remote(base_url, api_key).call(
        "POST", "/_sim/clock/run-until-idle", {"max_seconds": seconds}
    )
    _emit(answer, as_json, _moved(answer))


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
@_remote
@_JSON
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
@_remote
@_JSON
def workspace_show(base_url: str, api_key: str | None, as_json: bool) -> None:
    """The workspace of the API key."""
    answer = Remote(base_url, api_key).call("GET", "/_sim/workspace")
    text = (
        f"workspace {answer['id']} (seed {answer['seed']}): "
        f"{answer['clock']['now']} {answer['clock']['mode']} clock"
    )
    _emit(answer, as_json, text)


@workspace.command("reset")
@_remote
@_JSON
def workspace_reset(base_url: str, api_key: str | None, as_json: bool) -> None:
    """Delete everything in the workspace; its key, seed and clock mode stay."""
    answer = Remote(base_url, api_key).call("POST", "/_sim/reset")
    _emit(answer, as_json, f"workspace {answer['id']} is empty again")
