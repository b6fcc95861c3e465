"""One small HTTP client for both modes: a WSGI app in this process, or a base URL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str
    json: Any = None


@dataclass
class Exchange:
    """One request the scenario made and what came back."""

    method: str
    path: str
    query: dict[str, Any] | None
    body: Any
    status: int
    response: Any
    step: int | None = None
    virtual_time: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Transport(Protocol):
    base_url: str

    def send(
        self,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str],
        query: dict[str, Any] | None,
    ) -> Response: ...


def _decode(status: int, headers: dict[str, str], raw: bytes) -> Response:
    text = raw.decode("utf-8", errors="replace")
    parsed: Any = None
    if "json" in headers.get("Content-Type", headers.get("content-type", "")):
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
    return Response(status, headers, text, parsed)


class WsgiTransport:
    """Calls a WSGI app in this process (e.g. `simulator.testing.Sim().wsgi`)."""

    def __init__(self, wsgi: Any, base_url: str) -> None:
        from werkzeug.test import Client

        self.client = Client(wsgi)
        self.base_url = base_url.rstrip("/")

    def send(
        self,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str],
        query: dict[str, Any] | None,
    ) -> Response:
        kwargs: dict[str, Any] = {"headers": headers, "query_string": query or None}
        if body is not None:
            kwargs["json"] = body
        resp = self.client.open(path, method=method, **kwargs)
        return _decode(resp.status_code, dict(resp.headers), resp.get_data())


class HttpTransport:
    """Calls a running `connect-sim serve` over real HTTP."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.timeout = timeout

    def send(
        self,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str],
        query: dict[str, Any] | None,
    ) -> Response:
        resp = self.session.request(
            method,
            self.base_url + path,
            json=body,
            headers=headers,
            params=query,
            timeout=self.timeout,
            allow_redirects=False,
        )
        return _decode(resp.status_code, dict(resp.headers), resp.content)


class SimClient:
    """The scenario's view of the simulator: one workspace key, every exchange kept."""

    def __init__(self, transport: Transport, api_key: str | None = None) -> None:
        self.transport = transport
        self.api_key = api_key
        self.history: list[Exchange] = []
        self.step: int | None = None
        self.virtual_time: str | None = None

    def local_path(self, url_or_path: str) -> str:
        """A path on the simulator for an absolute URL it handed out (or a path)."""
        if url_or_path.startswith("/"):
            return url_or_path
        parts = urlsplit(url_or_path)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        record: bool = True,
        auth: bool = True,
    ) -> Response:
        sent = dict(headers or {})
        if auth and self.api_key and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.api_key}"
        path = self.local_path(path)
        resp = self.transport.send(method.upper(), path, body, sent, query)
        if record:
            self.history.append(
                Exchange(
                    method=method.upper(),
                    path=path,
                    query=query,
                    body=body,
                    status=resp.status,
                    response=resp.json if resp.json is not None else resp.text[:2000],
                    step=self.step,
                    virtual_time=self.virtual_time,
                    headers={k: v for k, v in resp.headers.items() if k.lower() == "retry-after"},
                )
            )
        return resp

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """A call that must succeed (the runner's own bookkeeping); answers the JSON."""
        resp = self.call(method, path, body, **kwargs)
        if not 200 <= resp.status < 300:
            raise RuntimeError(f"{method} {path} answered {resp.status}: {resp.text[:500]}")
        return resp.json

    def now(self) -> str:
        return self.ok("GET", "/_sim/clock", record=False)["now"]

    def create_workspace(self, seed: int, clock: str = "manual", **settings: Any) -> dict[str, Any]:
        """A fresh workspace; `settings` are its other options (`naming`, `strict`)."""
        created = self.ok(
            "POST",
            "/_sim/workspaces",
            {"seed": seed, "clock": clock, **settings},
            record=False,
            auth=False,
        )
        self.api_key = created["api_key"]
        return created
