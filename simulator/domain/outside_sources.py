"""Outside SMART servers a workspace adds to its catalog (bring your own portal).

A source here is a FHIR server this process does not serve, with the client an
operator registered there: `client_id`, and `client_secret` (confidential,
`client_secret_basic`) or none (public, PKCE only), and the scopes to ask for.
The simulator's SMART client then treats it like one of its own portals
(discovery at `[fhir_base_url]/.well-known/smart-configuration`, authorize, code
exchange, refresh, revocation, pulls), over real HTTP and with no dynamic
registration. Only the workspace that added a source sees it (`catalog`); the
secret is stored for the token calls and never shown again.

URLs: an absolute `https` URL, or `http` for localhost and loopback addresses;
the host must be the one `requests` will send to and `urllib.parse` reads alike
(`validation.url_host`); no credentials, query or fragment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from simulator.clients import smart
from simulator.core.errors import invalid, not_found
from simulator.core.sources import Catalog, Source
from simulator.core.timeutil import iso
from simulator.core.validation import ambiguous_url, is_local_host, url_host
from simulator.domain.rows import Row

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS outside_sources (
    workspace_id TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    type TEXT,
    kind TEXT NOT NULL,
    fhir_base_url TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret TEXT,
    scope TEXT,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
"""

KINDS = ("hospital", "clinic", "payer")


@dataclass(frozen=True, slots=True)
class OutsideSource(Row):
    """A row of `outside_sources`."""

    workspace_id: str
    id: str
    seq: int
    name: str
    type: str | None
    kind: str
    fhir_base_url: str
    client_id: str
    client_secret: str | None
    scope: str | None
    created_ms: int

    def source(self) -> Source:
        return Source(
            id=self.id,
            slug=self.id,
            name=self.name,
            type=self.type,
            kind=self.kind,
            fhir_base_url=self.fhir_base_url,
            logo_url=None,
            portal_url=None,
            client_id=self.client_id,
            client_secret=self.client_secret,
            scope=self.scope,
            workspace_id=self.workspace_id,
        )

    def to_api(self) -> dict[str, Any]:
        return {
            **self.source().to_api(),
            "kind": self.kind,
            "client_id": self.client_id,
            "client_type": "public" if self.client_secret is None else "confidential",
            "scope": self.scope or smart.DEFAULT_SCOPE,
            "discovery_url": self.fhir_base_url + "/.well-known/smart-configuration",
            "created_at": iso(self.created_ms),
        }


def check_base_url(value: str, param: str = "fhir_base_url") -> str:
    """An outside FHIR base URL (see the module docstring); answers it without a trailing /."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"'{param}' must be an absolute http or https URL", param)
    host = url_host(value)
    if host is None:
        raise invalid(ambiguous_url(param), param)
    if parts.scheme == "http" and not is_local_host(host):
        raise invalid(f"'{param}' must use https (http is allowed for localhost only)", param)
    if parts.username is not None or parts.password is not None:
        raise invalid(f"'{param}' must not carry credentials", param)
    if parts.query or parts.fragment or value.endswith(("?", "#")):
        raise invalid(f"'{param}' must have no query or fragment", param)
    return value.rstrip("/")


def create(rt: Runtime, ws_id: str, body: dict[str, Any]) -> OutsideSource:
    """Add an outside server to the workspace's catalog (body checked by the caller's schema)."""
    base = check_base_url(body["fhir_base_url"])
    own = rt.base_url + "/"
    if (base + "/").startswith(own):
        raise invalid(
            "'fhir_base_url' is one of this simulator's own portals: use its catalog entry",
            "fhir_base_url",
        )
    secret = body.get("client_secret")
    with rt.store.tx():
        source_id, seq = rt.new_id(ws_id, "fhirsrc_")
        rt.store.execute(
            "INSERT INTO outside_sources (workspace_id, id, seq, name, type, kind,"
            " fhir_base_url, client_id, client_secret, scope, created_ms)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                ws_id,
                source_id,
                seq,
                body["name"].strip(),
                body.get("type"),
                body.get("kind") or "hospital",
                base,
                body["client_id"],
                secret or None,
                body.get("scope"),
                rt.now(ws_id),
            ),
        )
    return get(rt, ws_id, source_id)


def _all(rt: Runtime, ws_id: str) -> list[OutsideSource]:
    rows = rt.store.all(
        "SELECT * FROM outside_sources WHERE workspace_id = ? ORDER BY seq", (ws_id,)
    )
    return [OutsideSource.from_row(r) for r in rows]


def list_all(rt: Runtime, ws_id: str) -> list[OutsideSource]:
    return _all(rt, ws_id)


def get(rt: Runtime, ws_id: str, source_id: str) -> OutsideSource:
    found = OutsideSource.maybe(
        rt.store.one(
            "SELECT * FROM outside_sources WHERE workspace_id = ? AND id = ?", (ws_id, source_id)
        )
    )
    if found is None:
        raise not_found("source", source_id, "id")
    return found


def catalog(rt: Runtime, ws_id: str) -> Catalog:
    """The catalog as this workspace sees it: the runtime's plus its outside sources."""
    return rt.catalog.merged([s.source() for s in _all(rt, ws_id)])


def source(rt: Runtime, ws_id: str, ident: str) -> Source | None:
    """One source as this workspace sees it, by id or base URL (`catalog(…).get`); a
    built-in source found by its id is answered without reading the workspace's own."""
    built_in = rt.catalog.by_id(ident)
    if built_in is not None:
        return built_in
    return catalog(rt, ws_id).get(ident)
