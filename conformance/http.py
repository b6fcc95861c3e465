"""The suite's HTTP client: one base URL, one API key, every exchange recorded.

Two transports carry the same requests: real HTTP (`requests`) against a base URL,
and a WSGI app in this process (Werkzeug's test client) for the in-process target.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

import requests

from conformance.results import CheckFailed, Exchange

REDACTED = "[redacted]"
_SECRET_HEADERS = {"authorization", "cookie", "set-cookie", "medblocks-signature"}
_BODY_LIMIT = 20_000


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str
    json: Any = None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class Transport(Protocol):
    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]: ...


class RequestsTransport:
    """Real HTTP: no redirects followed, a bounded time-out."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.session = requests.Session()
        self.timeout = timeout

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        resp = self.session.request(
            method, url, headers=headers, data=body, timeout=self.timeout, allow_redirects=False
        )
        return resp.status_code, dict(resp.headers), resp.content


class WsgiTransport:
    """A WSGI app in this process, reached by path (the URL's scheme and host are kept)."""

    def __init__(self, wsgi: Any) -> None:
        from werkzeug.test import Client

        self.client = Client(wsgi)

    def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(url)
        resp = self.client.open(
            parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            method=method,
            headers=headers,
            query_string=parts.query or None,
            data=body,
        )
        return resp.status_code, dict(resp.headers), resp.get_data()


def _decode(headers: dict[str, str], raw: bytes) -> tuple[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if "json" in content_type and text:
        try:
            return text, json.loads(text)
        except ValueError:
            return text, None
    return text, None


_TOKENISH = re.compile(r"\b(mb_sk_[A-Za-z0-9_]+|whsec_[A-Za-z0-9_\-]+)")


def redact_text(text: str) -> str:
    """API keys and webhook secrets never reach a report."""
    return _TOKENISH.sub(REDACTED, text)


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


def _for_report(value: Any) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = redact_text(text)
    if len(text) > _BODY_LIMIT:
        text = text[:_BODY_LIMIT] + "…"
    return text


class Client:
    """Talks to one target with one API key; keeps every exchange for the report."""

    def __init__(self, transport: Transport, base_url: str, api_key: str | None = None) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.exchanges: list[Exchange] = []
        self.virtual_time: str | None = None

    def with_key(self, api_key: str | None) -> Client:
        """Another client on the same transport and log, with another key."""
        other = Client(self.transport, self.base_url, api_key)
        other.exchanges = self.exchanges
        return other

    def url(self, path_or_url: str, query: dict[str, Any] | None = None) -> str:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        if query:
            pairs = [(k, v) for k, v in query.items() if v is not None]
            url += ("&" if "?" in url else "?") + urlencode(pairs, doseq=True)
        return url

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        auth: bool = True,
    ) -> Reply:
        """Send one request. `body` goes as JSON; `raw` as it is (for malformed input)."""
        sent = {"Accept": "application/json", **(headers or {})}
        if auth and self.api_key and not any(k.lower() == "authorization" for k in sent):
            sent["Authorization"] = f"Bearer {self.api_key}"
        data = raw
        if body is not None and raw is None:
            data = json.dumps(body).encode()
        if data is not None and not any(k.lower() == "content-type" for k in sent):
            sent["Content-Type"] = "application/json"
        url = self.url(path, query)
        start = time.perf_counter()
        status, got_headers, content = self.transport.send(method.upper(), url, sent, data)
        elapsed = (time.perf_counter() - start) * 1000
        text, parsed = _decode(got_headers, content)
        self.exchanges.append(
            Exchange(
                method=method.upper(),
                url=url,
                request_headers=_redact_headers(sent),
                request_body=_for_report(body if raw is None else raw.decode("utf-8", "replace")),
                status=status,
                response_headers=_redact_headers(got_headers),
                response_body=_for_report(parsed if parsed is not None else text),
                elapsed_ms=round(elapsed, 2),
                virtual_time=self.virtual_time,
            )
        )
        return Reply(status, got_headers, text, parsed)

    def get(self, path: str, **query: Any) -> Reply:
        return self.call("GET", path, query=query or None)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call("POST", path, body, **kwargs)

    def expect(self, method: str, path: str, status: int, body: Any = None, **kwargs: Any) -> Any:
        """A call that must answer `status`; answers the parsed JSON (fails the check if not)."""
        reply = self.call(method, path, body, **kwargs)
        if reply.status != status:
            raise CheckFailed(
                f"{method} {path} answered {reply.status}, expected {status}: "
                f"{redact_text(reply.text[:300])}"
            )
        return reply.json
