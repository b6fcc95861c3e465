"""Route other code's `requests` calls to a WSGI app in this process (tests, benchmarks).

The simulator's own calls to its base URL already go through its in-process
transport (`simulator.core.transport`). This module is for the code around it:
a test, or an app under test, that calls the simulator with plain `requests`.
Inside `InProcess`, every `requests` call to `base_url` is answered by the app
through the `responses` library: the requests are real requests (headers,
bodies; redirects are not followed), only the socket is skipped. The caller's
read timeout still holds: an answer that takes longer raises
`requests.exceptions.ReadTimeout`, as it would over the network.

    rt, wsgi = build(Config(base_url="http://sim.test"))
    with InProcess(wsgi, rt.base_url):
        requests.get("http://sim.test/health")
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import requests
import responses
from requests import PreparedRequest
from werkzeug.test import Client

from simulator.core.transport import read_timeout

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _forward(client: Client, request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    """Call the WSGI app; an answer slower than the caller's timeout is a ReadTimeout."""
    limit = read_timeout(getattr(request, "req_kwargs", {}).get("timeout"))
    started = time.monotonic()
    answer = _call(client, request)
    if limit is not None and time.monotonic() - started > limit:
        raise requests.exceptions.ReadTimeout(
            f"in-process call to {request.url} took longer than {limit} s", request=request
        )
    return answer


def _call(client: Client, request: PreparedRequest) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(request.url or "")
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    try:
        resp = client.open(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method or "GET",
            headers=[(k, v) for k, v in request.headers.items() if k.lower() != "content-length"],
            data=body or b"",
        )
    except ConnectionError as exc:  # the app dropped the connection: no answer
        raise requests.exceptions.ConnectionError(exc, request=request) from None
    headers: dict[str, str] = {}
    for name, value in resp.headers.items():
        if name.lower() in ("content-length",):
            continue
        headers[name] = value if name not in headers else headers[name] + ", " + value
    return resp.status_code, headers, resp.get_data()


def route(rsps: responses.RequestsMock, base_url: str, wsgi_app: Any) -> None:
    """Send every request under `base_url` to `wsgi_app`."""
    client = Client(wsgi_app)
    pattern = re.compile(re.escape(base_url.rstrip("/")) + r"([/?#].*)?$")
    for method in METHODS:
        rsps.add_callback(method, pattern, callback=lambda req: _forward(client, req))


class InProcess:
    """Context manager: route `base_url` to `wsgi_app`, let `passthru` prefixes reach the network."""

    def __init__(self, wsgi_app: Any, base_url: str, passthru: Iterable[str] = ()) -> None:
        self.wsgi_app = wsgi_app
        self.base_url = base_url
        self.passthru = list(passthru)
        self.mock = responses.RequestsMock(assert_all_requests_are_fired=False)

    def __enter__(self) -> responses.RequestsMock:
        self.mock.__enter__()
        route(self.mock, self.base_url, self.wsgi_app)
        for prefix in self.passthru:
            self.mock.add_passthru(prefix)
        return self.mock

    def __exit__(self, *exc: object) -> None:
        self.mock.__exit__(*exc)
