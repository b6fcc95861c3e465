"""`connect-sim listen`: a workspace's events, live; with `--forward-to`, delivered to a URL.

Without `--forward-to`, listen follows `GET /_sim/events` and prints one line per event
emitted in the workspace from then on.

With `--forward-to URL`, listen registers a webhook endpoint for URL in the workspace
(for `--events`, or every event), prints its signing secret, and follows that
endpoint's delivery log (`GET /_sim/webhooks/{id}/attempts`). The deliveries are the
simulator's own: it POSTs each event to URL with the `Medblocks-Signature` header,
retries on the workspace clock and disables the endpoint after the ninth failure,
exactly as for any endpoint; listen prints each attempt's status and latency. Ctrl-C
(or SIGTERM) deletes the endpoint. The URL must be reachable from the simulator
(`http://localhost…` when both run on one machine).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Hashable
from typing import Any
from urllib.parse import urlencode

import click

from simulator.remote import JSON_OPTION, Remote, remote_options

POLL_S = 0.5  # wall time between two polls
MAX_PAGES = 50  # pages walked per poll before giving up on finding where the last one ended


def _new_items(
    remote: Remote,
    path: str,
    key: Callable[[dict[str, Any]], Hashable],
    seen: set[Hashable],
    params: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The items of a newest-first list not seen before, oldest first (and now seen)."""
    fresh: list[dict[str, Any]] = []
    query = {"limit": "100", **(params or {})}
    for _ in range(MAX_PAGES):
        page = remote.call("GET", f"{path}?{urlencode(query)}")
        for item in page["data"]:
            if key(item) in seen:
                break
            fresh.append(item)
        else:
            if page["has_more"]:
                query["starting_after"] = page["next_cursor"]
                continue
        break
    fresh.reverse()
    seen.update(key(item) for item in fresh)
    return fresh


def _event_key(event: dict[str, Any]) -> Hashable:
    return event["id"]


def _attempt_key(attempt: dict[str, Any]) -> Hashable:
    return (
        attempt["event_id"],
        attempt["trigger"],
        attempt["attempt"],
        attempt["attempted_at"],
        attempt["signature_header"],
    )


def _subject(data: dict[str, Any]) -> str:
    obj = data.get("object") or {}
    return str(obj.get("id") or obj.get("connection_id") or "")


def _event_line(event: dict[str, Any]) -> str:
    return f"{event['created_at']}  {event['type']:<32} {event['id']}  {_subject(event['data'])}"


def _attempt_line(attempt: dict[str, Any], event_type: str) -> str:
    if attempt["status_code"] is not None:
        outcome = f"[{attempt['status_code']}]"
    else:
        outcome = f"[{attempt['error'] or 'no answer'}]"
    note = ""
    if attempt["trigger"] != "automatic":
        note = f"  ({attempt['trigger']})"
    elif attempt["attempt"] and attempt["attempt"] > 1:
        note = f"  (attempt {attempt['attempt']})"
    return (
        f"{attempt['attempted_at']}  {event_type:<32} {attempt['event_id']}"
        f"  --> {outcome} POST {attempt['url']}  {attempt['duration_ms']} ms{note}"
    )


def _parse_events(value: str) -> list[str]:
    names = list(dict.fromkeys(name.strip() for name in value.split(",") if name.strip()))
    return names or ["*"]


def _stop_on_sigterm() -> None:
    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


def _show(item: dict[str, Any], as_json: bool, text: str) -> None:
    click.echo(json.dumps(item) if as_json else text)


def _tail_events(remote: Remote, names: list[str], as_json: bool, interval: float) -> None:
    wanted = None if "*" in names else set(names)
    for name in wanted or ():
        remote.call("GET", f"/_sim/events?{urlencode({'type': name, 'limit': '1'})}")
    # What happened before is not news: the newest page marks where the news starts.
    newest = remote.call("GET", "/_sim/events?limit=100")["data"]
    seen: set[Hashable] = {_event_key(event) for event in newest}
    ws = remote.call("GET", "/_sim/workspace")
    click.echo(f"Ready! Listening to the events of workspace {ws['id']} (Ctrl-C to stop)", err=True)
    while True:
        for event in _new_items(remote, "/_sim/events", _event_key, seen):
            if wanted is None or event["type"] in wanted:
                _show(event, as_json, _event_line(event))
        time.sleep(interval)


def _forward(remote: Remote, url: str, names: list[str], as_json: bool, interval: float) -> None:
    endpoint = remote.call(
        "POST",
        "/webhooks",
        {"url": url, "events": names, "description": "connect-sim listen"},
    )
    wh_id = endpoint["id"]
    try:
        click.echo(
            f"Ready! Forwarding to {url} (endpoint {wh_id}, events {', '.join(names)})\n"
            f"Your webhook signing secret is {endpoint['secret']} (Ctrl-C to stop)",
            err=not as_json,
        )
        if as_json:
            click.echo(json.dumps(endpoint))
        types: dict[str, str] = {}
        seen: set[Hashable] = set()
        while True:
            for attempt in _new_items(
                remote, f"/_sim/webhooks/{wh_id}/attempts", _attempt_key, seen
            ):
                if attempt["event_id"] not in types:
                    records = remote.call("GET", f"/webhooks/{wh_id}/events?limit=100")["data"]
                    types.update({record["id"]: record["type"] for record in records})
                event_type = types.get(attempt["event_id"], "event")
                _show(attempt, as_json, _attempt_line(attempt, event_type))
            time.sleep(interval)
    finally:
        try:
            remote.call("DELETE", f"/webhooks/{wh_id}")
            click.echo(f"Stopped; endpoint {wh_id} deleted", err=True)
        except click.ClickException as exc:
            click.echo(f"Stopped; endpoint {wh_id} not deleted: {exc.message}", err=True)


@click.command()
@click.option(
    "--events",
    default="*",
    show_default=True,
    help="comma-separated event types to show and forward (e.g. records.sync.completed,"
    "records.sync.failed)",
)
@click.option(
    "--forward-to",
    default=None,
    help="deliver every event to this URL (https, or http://localhost…), signed",
)
@click.option(
    "--interval",
    default=POLL_S,
    show_default=True,
    type=click.FloatRange(0.05, 60),
    help="seconds between two polls of the simulator",
)
@remote_options
@JSON_OPTION
def listen(
    events: str,
    forward_to: str | None,
    interval: float,
    base_url: str,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Print the workspace's events as they happen; with --forward-to, deliver them.

    With --forward-to, a webhook endpoint for the URL is registered for as long as
    listen runs: the simulator delivers each event to it, signed with the secret printed
    at start, with its usual retries, and each attempt's status and latency is printed."""
    remote = Remote(base_url, api_key)
    names = _parse_events(events)
    _stop_on_sigterm()
    try:
        if forward_to:
            _forward(remote, forward_to, names, as_json, interval)
        else:
            _tail_events(remote, names, as_json, interval)
    except KeyboardInterrupt:
        pass
