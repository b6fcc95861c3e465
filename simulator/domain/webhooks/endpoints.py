"""Webhook endpoints (`wh_…`): where a workspace wants its events, and with what secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from statemachine import State, StateMachine

from simulator.core import ids, naming, pagination
from simulator.core.errors import ApiError, invalid, not_found
from simulator.core.lifecycle import event_to, states, transition
from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import iso
from simulator.core.validation import ambiguous_url, is_local_host, url_host
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_endpoints (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    status TEXT NOT NULL,
    description TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    api_version TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    chaos TEXT NOT NULL DEFAULT '{}',
    chaos_state TEXT NOT NULL DEFAULT '{}',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX IF NOT EXISTS webhook_endpoints_seq ON webhook_endpoints (workspace_id, seq);
"""

PREFIX = "wh_"
SECRET_PREFIX = "whsec_"


class EndpointLifecycle(StateMachine):
    """A webhook endpoint: active <-> disabled (by the API, or after exhausted attempts)."""

    active = State(initial=True)
    disabled = State()

    disable = active.to(disabled)
    enable = disabled.to(active)


STATUSES = states(EndpointLifecycle)
ALL = "*"
MAX_ENDPOINTS = 16
MAX_METADATA_KEYS = 50


@dataclass(frozen=True, slots=True)
class Endpoint(Row):
    """A row of `webhook_endpoints` (`events`, `metadata`, `chaos`, `chaos_state`: JSON text)."""

    workspace_id: str
    id: str
    seq: int
    url: str
    events: str
    status: str
    description: str | None
    metadata: str
    api_version: str
    secret: str
    previous_secret: str | None
    chaos: str
    chaos_state: str
    created_ms: int
    updated_ms: int


def check_url(rt: Runtime, url: str, param: str = "url") -> str:
    """https anywhere; http only for localhost, loopback, or the simulator's own base URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"'{param}' must be an absolute https URL", param)
    if parts.fragment:
        raise invalid(f"'{param}' must not contain a fragment", param)
    if url_host(url) is None:
        raise invalid(ambiguous_url(param), param)
    if parts.scheme == "http" and not (
        is_local_host(parts.hostname) or url.startswith(rt.base_url + "/")
    ):
        raise invalid(
            f"'{param}' must use https (http is allowed for localhost and 127.0.0.1 only)", param
        )
    return url


def subscribable(gen: naming.Generation) -> tuple[str, ...]:
    """Names an endpoint's `events` takes: "*" and the four types under `gen`'s names."""
    return (ALL, *gen.event_types)


def check_events(
    events: list[str], gen: naming.Generation = naming.CANONICAL, param: str = "events"
) -> list[str]:
    """The names of the workspace's generation only: a C workspace knows no B name."""
    for index, name in enumerate(events):
        if name not in subscribable(gen):
            raise invalid(
                f"'{param}.{index}' is not an event type: '{name}'; use '*' or one of "
                + ", ".join(gen.event_types),
                f"{param}.{index}",
            )
    unique: list[str] = []
    for name in events:
        if name not in unique:
            unique.append(name)
    return unique


def check_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    metadata = metadata or {}
    if len(metadata) > MAX_METADATA_KEYS:
        raise invalid(f"'metadata' can have at most {MAX_METADATA_KEYS} keys", "metadata")
    return metadata


def subscribes(endpoint: Endpoint, event_type: str) -> bool:
    """Whether an endpoint's `events` filter takes an event of `event_type`."""
    wanted = loads(endpoint.events, [])
    return ALL in wanted or event_type in wanted


def new_secret(rt: Runtime, ws_id: str) -> str:
    """160 bits from the CSPRNG: a secret that follows from the seed could be forged."""
    return SECRET_PREFIX + ids.secret_hex(40)


def render(endpoint: Endpoint, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": endpoint.id,
        "resource_type": "webhook_endpoint",
        "url": endpoint.url,
        "events": loads(endpoint.events, []),
        "status": endpoint.status,
        "description": endpoint.description,
        "metadata": loads(endpoint.metadata, {}),
        "api_version": endpoint.api_version,
        "created_at": iso(endpoint.created_ms),
        "updated_at": iso(endpoint.updated_ms),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def find(store: Store, ws_id: str, endpoint_id: str) -> Endpoint | None:
    return Endpoint.maybe(
        store.one(
            "SELECT * FROM webhook_endpoints WHERE workspace_id = ? AND id = ?",
            (ws_id, endpoint_id),
        )
    )


def get_row(store: Store, ws_id: str, endpoint_id: str) -> Endpoint:
    endpoint = find(store, ws_id, endpoint_id)
    if endpoint is None:
        raise not_found("webhook endpoint", endpoint_id)
    return endpoint


def list_page(
    store: Store, ws_id: str, args: Mapping[str, str], *, status: str | None = None
) -> dict[str, Any]:
    """A page of the workspace's endpoints, newest first, optionally in one status."""
    if status is not None and status not in STATUSES:
        listed = " or ".join(f"'{name}'" for name in STATUSES)
        raise invalid(f"'status' must be {listed}", "status")
    return pagination.page(
        store,
        "webhook_endpoints",
        kind=f"webhooks?status={status or ''}",
        match={"workspace_id": ws_id, "status": status},
        args=args,
        render=lambda row: render(Endpoint.from_row(row)),
    )


def active_rows(store: Store, ws_id: str) -> list[Endpoint]:
    rows = store.all(
        "SELECT * FROM webhook_endpoints WHERE workspace_id = ? AND status = 'active' ORDER BY seq",
        (ws_id,),
    )
    return [Endpoint.from_row(r) for r in rows]


def all_rows(store: Store, ws_id: str) -> list[Endpoint]:
    rows = store.all(
        "SELECT * FROM webhook_endpoints WHERE workspace_id = ? ORDER BY seq", (ws_id,)
    )
    return [Endpoint.from_row(r) for r in rows]


def create(rt: Runtime, ws_id: str, body: dict[str, Any], api_version: str) -> tuple[Endpoint, str]:
    """Register an endpoint; returns it and its secret (shown this once)."""
    url = check_url(rt, body["url"])
    events = check_events(body["events"], naming.of_workspace(rt.store, ws_id))
    metadata = check_metadata(body.get("metadata"))
    store = rt.store
    with store.tx():
        count = store.scalar(
            "SELECT COUNT(*) FROM webhook_endpoints WHERE workspace_id = ?", (ws_id,)
        )
        if count >= MAX_ENDPOINTS:
            raise ApiError(
                "resource_conflict",
                f"A workspace can have at most {MAX_ENDPOINTS} webhook endpoints;"
                " delete the ones you no longer use",
            )
        endpoint_id, seq = rt.new_id(ws_id, PREFIX)
        secret = new_secret(rt, ws_id)
        now = rt.now(ws_id)
        store.execute(
            "INSERT INTO webhook_endpoints (workspace_id, id, seq, url, events, status,"
            " description, metadata, api_version, secret, created_ms, updated_ms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                ws_id,
                endpoint_id,
                seq,
                url,
                dumps(events),
                EndpointLifecycle.initial_state.value,
                body.get("description"),
                dumps(metadata),
                api_version,
                secret,
                now,
                now,
            ),
        )
        return get_row(store, ws_id, endpoint_id), secret


def update(
    rt: Runtime, ws_id: str, endpoint_id: str, body: dict[str, Any]
) -> tuple[Endpoint, bool]:
    """Apply a partial update; returns the endpoint and whether it was just disabled."""
    store = rt.store
    with store.tx():
        endpoint = get_row(store, ws_id, endpoint_id)
        changes: dict[str, Any] = {}
        if "url" in body:
            changes["url"] = check_url(rt, body["url"])
        if "events" in body:
            gen = naming.of_workspace(store, ws_id)
            changes["events"] = dumps(check_events(body["events"], gen))
        if "description" in body:
            changes["description"] = body["description"]
        if "metadata" in body:
            changes["metadata"] = dumps(check_metadata(body["metadata"]))
        if body.get("status", endpoint.status) != endpoint.status:
            event = event_to(EndpointLifecycle, endpoint.status, body["status"])
            changes["status"] = transition(EndpointLifecycle, endpoint.status, event)
        disabled_now = changes.get("status") == EndpointLifecycle.disabled.value
        changes["updated_ms"] = rt.now(ws_id)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        store.execute(
            f"UPDATE webhook_endpoints SET {assignments} WHERE workspace_id = ? AND id = ?",
            (*changes.values(), ws_id, endpoint_id),
        )
        return get_row(store, ws_id, endpoint_id), disabled_now


def set_status(rt: Runtime, ws_id: str, endpoint_id: str, event: str) -> None:
    """Apply an EndpointLifecycle event (`disable`, `enable`); raises on a bad move."""
    status = transition(EndpointLifecycle, get_row(rt.store, ws_id, endpoint_id).status, event)
    rt.store.execute(
        "UPDATE webhook_endpoints SET status = ?, updated_ms = ? WHERE workspace_id = ? AND id = ?",
        (status, rt.now(ws_id), ws_id, endpoint_id),
    )


def rotate_secret(rt: Runtime, ws_id: str, endpoint_id: str) -> tuple[Endpoint, str]:
    """A new secret; the old one stops signing at once (kept only for chaos)."""
    store = rt.store
    with store.tx():
        endpoint = get_row(store, ws_id, endpoint_id)
        secret = new_secret(rt, ws_id)
        store.execute(
            "UPDATE webhook_endpoints SET secret = ?, previous_secret = ?, updated_ms = ?"
            " WHERE workspace_id = ? AND id = ?",
            (secret, endpoint.secret, rt.now(ws_id), ws_id, endpoint_id),
        )
        return get_row(store, ws_id, endpoint_id), secret


def delete_row(store: Store, ws_id: str, endpoint_id: str) -> None:
    store.execute(
        "DELETE FROM webhook_endpoints WHERE workspace_id = ? AND id = ?", (ws_id, endpoint_id)
    )


def tombstone(endpoint_id: str) -> dict[str, Any]:
    return {"id": endpoint_id, "resource_type": "webhook_endpoint", "deleted": True}
