"""The simulator's own app registrations at the portals (RFC 7591 dynamic registration).

One confidential client (`client_secret_basic`) per workspace, source and
redirect URI. The first time a workspace needs its client at a source, the
simulator registers it at the source's `registration_endpoint` (from SMART
discovery). To the portals this process serves it sends the workspace's
registration token as the initial access token, so the portal binds the
client, and the grants made with it, to that workspace; an outside server
gets an open registration (the token is this simulator's secret). The answer
is kept in `client_registrations`; a reset deletes it with the workspace's
other objects, and the next attempt registers again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.clients import registration, smart
from simulator.clients.smart import ClientCredentials, SmartError
from simulator.core import workspaces
from simulator.core.sources import Source
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS client_registrations (
    workspace_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, source_id, redirect_uri)
);
"""

CLIENT_NAME = "Medblocks Connect"


@dataclass(frozen=True, slots=True)
class Registration(Row):
    """A row of `client_registrations`: the simulator's client at one source."""

    workspace_id: str
    source_id: str
    redirect_uri: str
    client_id: str
    client_secret: str
    created_ms: int


def _stored(rt: Runtime, ws_id: str, source_id: str, redirect_uri: str) -> Registration | None:
    return Registration.maybe(
        rt.store.one(
            "SELECT * FROM client_registrations"
            " WHERE workspace_id = ? AND source_id = ? AND redirect_uri = ?",
            (ws_id, source_id, redirect_uri),
        )
    )


def client_for(
    rt: Runtime,
    ws_id: str,
    source: Source,
    redirect_uri: str,
    registration_endpoint: str | None = None,
) -> ClientCredentials:
    """The workspace's client at the source, registered on first use; raises SmartError.

    `registration_endpoint` saves a discovery when the caller has just run one. An
    outside server's source names its client (no registration).
    """
    if source.client_id is not None:
        return ClientCredentials(source.client_id, source.client_secret)
    stored = _stored(rt, ws_id, source.id, redirect_uri)
    if stored is None:
        timeout = rt.config.http_timeout
        endpoint = (
            registration_endpoint
            or smart.discover(rt.http, source.fhir_base_url, timeout).registration_endpoint
        )
        if not endpoint:
            raise SmartError(
                "registration_unsupported", f"{source.name} advertises no registration_endpoint"
            )
        own_portal = endpoint.startswith(rt.base_url + "/")
        token = workspaces.registration_token(rt.store, ws_id) if own_portal else None
        client = registration.register(
            rt.http,
            endpoint,
            redirect_uris=[redirect_uri],
            client_name=CLIENT_NAME,
            initial_access_token=token,
            timeout=timeout,
        )
        with rt.store.tx():
            # A registration stored meanwhile (a concurrent first attempt) is the one kept.
            rt.store.execute(
                "INSERT INTO client_registrations (workspace_id, source_id,"
                " redirect_uri, client_id, client_secret, created_ms) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT DO NOTHING",
                (
                    ws_id,
                    source.id,
                    redirect_uri,
                    client.client_id,
                    client.client_secret,
                    rt.now(ws_id),
                ),
            )
            stored = _stored(rt, ws_id, source.id, redirect_uri)
    return ClientCredentials(stored.client_id, stored.client_secret)


def issued_to(rt: Runtime, ws_id: str, source_id: str, client_id: str) -> ClientCredentials | None:
    """The registration a grant was issued to, whatever redirect URI (base URL) it was
    made for: a refresh after a restart elsewhere still authenticates as that client.

    A registration is never changed once stored (its client id is the portal's, never
    reused), so the runtime remembers it (`Runtime.memo`)."""
    key = ("registration", ws_id, source_id, client_id)
    known = rt.memo.get(key)
    if known is not None:
        return known
    stored = Registration.maybe(
        rt.store.one(
            "SELECT * FROM client_registrations"
            " WHERE workspace_id = ? AND source_id = ? AND client_id = ?",
            (ws_id, source_id, client_id),
        )
    )
    if stored is None:
        return None
    credentials = ClientCredentials(stored.client_id, stored.client_secret)
    rt.memo.keep(key, credentials)
    return credentials
