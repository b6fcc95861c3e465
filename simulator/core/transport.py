"""An in-process HTTP transport: `requests` calls answered by a WSGI app in this process.

When the simulator calls its own portals, hosted pages or inboxes, the request
is the same as on the wire (method, URL, headers, body; the answer's status,
headers, cookies and body), but no socket is opened and no server worker is
taken: `WsgiAdapter` builds the WSGI environ, calls the app in the calling
thread and hands `requests` a `Response`. Mount it on a session for the base
URL the app serves; everything else still goes over the network.

    http = Session()  # or a plain requests.Session
    http.mount("http://sim.test/", WsgiAdapter(wsgi_app))

`Session` is a `requests.Session` whose plain calls (method, URL, form or raw
body, headers, timeout, redirects on or off) to a mounted `WsgiAdapter` build the
request the way `requests` would (session headers and cookies merged, the body
form-encoded, Content-Length, the URL requoted) without its per-call merging of
settings; any other call is `requests.Session.request` itself.

The caller's read timeout still holds: an answer slower than it raises
`requests.exceptions.ReadTimeout`, as it would over the network.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote_to_bytes, urlencode, urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.cookies import RequestsCookieJar, extract_cookies_to_jar, merge_cookies
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def read_timeout(timeout: Any) -> float | None:
    """The read part of a `requests` timeout (a number or a (connect, read) pair)."""
    if isinstance(timeout, tuple):
        timeout = timeout[-1]
    return None if timeout is None else float(timeout)


def _environ(request: Any) -> dict[str, Any]:
    parts = urlsplit(request.url or "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):  # a file-like or generator body
        body = b"".join(body) if not hasattr(body, "read") else body.read()
    host = parts.hostname or "localhost"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if "%" in path or not path.isascii():  # PEP 3333: the decoded bytes as latin-1 characters
        path = unquote_to_bytes(path).decode("latin-1")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": (request.method or "GET").upper(),
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": parts.query,
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": parts.scheme or "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "HTTP_HOST": parts.netloc,
    }
    headers = request.headers
    pairs = headers.lower_items() if isinstance(headers, CaseInsensitiveDict) else headers.items()
    for name, value in pairs:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
        elif key != "CONTENT_LENGTH" and key != "HOST":
            environ["HTTP_" + key] = value
    return environ


def _merged_headers(header_list: list[tuple[str, str]]) -> CaseInsensitiveDict[str]:
    """An answer's headers as `requests` shows them: a repeated header joined with `, `
    (as urllib3 does), without Content-Length."""
    merged: dict[str, tuple[str, str]] = {}
    for name, value in header_list:
        lower = name.lower()
        if lower == "content-length":
            continue
        seen = merged.get(lower)
        merged[lower] = (name, value if seen is None else f"{seen[1]}, {value}")
    return CaseInsensitiveDict(list(merged.values()))


class WsgiAdapter(BaseAdapter):
    """A `requests` transport adapter that calls a WSGI app in this process."""

    def __init__(self, app: WsgiApp, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.app = app
        self.monotonic = monotonic

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        status, header_list, body = self.answer(request, timeout)
        return self._response(request, status, header_list, body)

    def answer(self, request: Any, timeout: Any = None) -> tuple[str, list[tuple[str, str]], bytes]:
        """The app's status line, headers and body for `request` (a PreparedRequest or an
        `Outgoing`: method, url, headers, body); an answer slower than the read timeout
        is a `ReadTimeout`."""
        limit = read_timeout(timeout)
        started = self.monotonic()
        answered = self._call(request)
        if limit is not None and self.monotonic() - started > limit:
            raise requests.exceptions.ReadTimeout(
                f"in-process call to {request.url} took longer than {limit} s", request=request
            )
        return answered

    def _call(self, request: Any) -> tuple[str, list[tuple[str, str]], bytes]:
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            if exc_info is not None and answer:
                raise exc_info[1].with_traceback(exc_info[2])
            answer["status"], answer["headers"] = status, headers
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        result = self.app(_environ(request), start_response)
        try:
            chunks.extend(result)
        except ConnectionError as exc:  # the app dropped the connection: no answer
            raise requests.exceptions.ConnectionError(exc, request=request) from None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return answer["status"], answer["headers"], b"".join(chunks)

    def _response(
        self,
        request: requests.PreparedRequest,
        status: str,
        header_list: list[tuple[str, str]],
        body: bytes,
    ) -> requests.Response:
        code, _, reason = status.partition(" ")
        message = http.client.HTTPMessage()  # what cookies are read from: only Set-Cookie
        for name, value in header_list:
            if name.lower() == "set-cookie":
                message[name] = value  # every one of them, for the cookie jar
        headers = _merged_headers(header_list)
        resp = requests.Response()
        resp.status_code = int(code)
        resp.reason = reason
        resp.headers = headers
        resp.url = request.url or ""
        resp.request = request
        resp.encoding = get_encoding_from_headers(headers)
        resp._content = body
        resp._content_consumed = True
        # what requests reads cookies from: `raw._original_response.msg`
        resp.raw = SimpleNamespace(_original_response=SimpleNamespace(msg=message))
        if len(message):
            extract_cookies_to_jar(resp.cookies, request, resp.raw)
        resp.connection = self
        return resp

    def close(self) -> None:
        """Nothing to release: no connection was opened."""


_FORM = "application/x-www-form-urlencoded"
# A URL that `requests` sends as it is: http(s), a lower-case host, a path without dot
# segments, no fragment, then only unreserved and reserved characters (no brackets) and
# upper-case escapes (`%XX`) of characters that are not unreserved (it would unescape
# those, and upper-case the hex of any other).
_PLAIN_URL = re.compile(
    r"https?://[a-z0-9.\-]+(?::[1-9][0-9]{0,3})?/"  # a port below 10000, no leading zero
    r"[A-Za-z0-9\-._~!$&'()*+,/:;=?@%]*"  # and each % starts an escape (`_ESCAPE`)
)
_ESCAPE = re.compile(r"%([0-9A-F]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _prepared_url(url: str) -> str:
    """The URL `requests` sends for `url` (`PreparedRequest.prepare_url`), without its
    parsing for a URL it would send unchanged."""
    if (
        _PLAIN_URL.fullmatch(url)
        and "/." not in url.partition("?")[0]  # no dot segment to remove from the path
        and not url.endswith("?")  # nor an empty query to drop
        and len(escapes := _ESCAPE.findall(url)) == url.count("%")
        and not any(chr(int(code, 16)) in _UNRESERVED for code in escapes)
    ):
        return url
    prep = requests.PreparedRequest()
    prep.prepare_url(url, None)
    return prep.url or url


def _encoded(data: Any) -> Any:
    """The body `requests` sends for `data`: text and bytes as they are, a dict or a list of
    pairs form-encoded (a list value repeats its key, a None value is left out)."""
    if isinstance(data, (str, bytes)):
        return data
    pairs = []
    for key, values in data.items() if isinstance(data, dict) else data:
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            values = [values]
        for value in values:
            if value is not None:
                pairs.append(
                    (
                        key.encode() if isinstance(key, str) else key,
                        value.encode() if isinstance(value, str) else value,
                    )
                )
    return urlencode(pairs, doseq=True)


class Session(requests.Session):
    """A `requests.Session` with a short path for plain calls answered by a `WsgiAdapter`."""

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: Any = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        adapter = self._in_process(url)
        plain = (
            adapter is not None
            and not (params or cookies or files or auth or proxies or hooks or stream or cert)
            and verify is None
            and json is None
            and isinstance(data, (type(None), dict, list, tuple, str, bytes))
            and self._plain_session()
        )
        if not plain:
            return super().request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                cookies=cookies,
                files=files,
                auth=auth,
                timeout=timeout,
                allow_redirects=allow_redirects,
                proxies=proxies,
                hooks=hooks,
                stream=stream,
                verify=verify,
                cert=cert,
                json=json,
            )
        assert adapter is not None
        prep = self._prepare_plain(method, url, data, headers)
        return self._followed(prep, adapter.send(prep, timeout=timeout), timeout, allow_redirects)

    def _plain_session(self) -> bool:
        """Nothing set on the session that changes a request beyond its headers."""
        return not (
            self.trust_env or self.auth or self.params or self.cert or self.stream
        ) and not any(self.hooks.values())

    def _followed(
        self,
        prep: requests.PreparedRequest,
        resp: requests.Response,
        timeout: Any,
        allow_redirects: bool,
    ) -> requests.Response:
        """What `requests` makes of an answer: its cookies kept, its redirects followed (or
        offered as `resp.next`)."""
        if "set-cookie" in resp.headers:  # the only header cookies are read from
            extract_cookies_to_jar(self.cookies, prep, resp.raw)
        if not resp.is_redirect:  # nothing for `resolve_redirects` to follow
            resp._next = None
            return resp
        if prep._cookies is None:  # the jar `resolve_redirects` reads and adds to
            prep._cookies = RequestsCookieJar()
        settings = {"timeout": timeout, "verify": self.verify, "cert": None, "proxies": {}}
        if allow_redirects:
            history = list(self.resolve_redirects(resp, prep, **settings))
            if history:
                history.insert(0, resp)
                resp = history.pop()
                resp.history = history
        else:
            resp._next = next(  # what `requests` offers as `resp.next`
                self.resolve_redirects(resp, prep, yield_requests=True, **settings), None
            )
        return resp

    def call(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str | None] | None = None,
        data: Any = None,
        timeout: Any = None,
    ) -> Reply | requests.Response:
        """`request(method, url, headers=, data=, timeout=)` for a caller that reads only
        the answer's status, headers and body.

        Answered by a mounted `WsgiAdapter`, with no cookie in the jar, it builds no
        `requests` objects: the app gets the environ `request` would give it and the
        answer is a `Reply`. An answer that sets a cookie or redirects is handed to
        `requests` as `request` would have had it (cookies kept, redirects followed).
        Anything else is `request` itself."""
        adapter = self._in_process(url)
        if (
            adapter is None
            or len(self.cookies)
            or not isinstance(data, (type(None), dict, list, tuple, str, bytes))
            or not self._plain_session()
        ):
            return self.request(method, url, data=data, headers=headers, timeout=timeout)
        sent, body = self._sent(headers, data)
        outgoing = Outgoing(method.upper(), _prepared_url(url), dict(sent), body)
        status, header_list, body = adapter.answer(outgoing, timeout)
        if any(
            name.lower() in ("set-cookie", "location") for name, _ in header_list
        ):  # what only `requests` does right: keep cookies, follow a redirect
            prep = self._prepare_plain(method, url, data, headers)
            resp = adapter._response(prep, status, header_list, body)
            return self._followed(prep, resp, timeout, True)
        return Reply(status, header_list, body, outgoing.url)

    def _in_process(self, url: str) -> WsgiAdapter | None:
        for prefix, adapter in self.adapters.items():
            if url.lower().startswith(prefix.lower()):
                return adapter if isinstance(adapter, WsgiAdapter) else None
        return None

    def _sent(self, headers: Any, data: Any) -> tuple[list[tuple[str, str]], Any]:
        """The headers and the body `requests` sends for a plain call: the session's
        headers with the call's over them (None drops one), Content-Type for a form body;
        no Cookie and no Content-Length."""
        merged = {name.lower(): (name, value) for name, value in self.headers.items()}
        for name, value in (headers or {}).items():
            if value is None:
                merged.pop(name.lower(), None)
            else:
                merged[name.lower()] = (name, value)
        sent = {lower: pair for lower, pair in merged.items() if pair[1] is not None}
        body = None
        if data:
            body = _encoded(data)
            if not isinstance(data, (str, bytes)) and "content-type" not in sent:
                sent["content-type"] = ("Content-Type", _FORM)
        return list(sent.values()), body

    def _prepare_plain(
        self, method: str, url: str, data: Any, headers: Any
    ) -> requests.PreparedRequest:
        """The PreparedRequest `requests` would build for this call."""
        prep = requests.PreparedRequest()
        prep.method = method.upper()
        prep.url = _prepared_url(url)
        sent, body = self._sent(headers, data)
        prep.headers = CaseInsensitiveDict(sent)
        if len(self.cookies):
            prep.prepare_cookies(merge_cookies(RequestsCookieJar(), self.cookies))
        # else no Cookie header, and the request's jar is made only for a redirect to read
        prep.prepare_content_length(body)
        prep.body = body
        prep.hooks = default_hooks()
        return prep


class Outgoing:
    """A request for `WsgiAdapter.answer` without a `requests.PreparedRequest`: method,
    URL (as `requests` sends it), headers and body."""

    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: dict[str, str], body: Any) -> None:
        self.method, self.url, self.headers, self.body = method, url, headers, body


def recorded(request: Any) -> Any:
    """`request` as a test reads it: an `Outgoing`'s headers looked up in any case."""
    if isinstance(request, Outgoing):
        headers = CaseInsensitiveDict(request.headers)
        return Outgoing(request.method, request.url, headers, request.body)  # type: ignore[arg-type]
    return request


class Reply:
    """An in-process answer (`Session.call`), read as a `requests.Response` is read:
    `status_code`, `reason`, `url`, `content`, `headers` (case-insensitive, a repeated
    header joined), `text`, `json()`, `ok`.

    `json()` of a UTF-8 answer decodes it here; anything else (another charset, bytes
    that are not UTF-8) and `text` are answered by the `requests.Response` the same
    answer makes, so every reading is the one `requests` gives."""

    __slots__ = ("status_code", "reason", "url", "content", "_header_list", "_headers", "_full")

    def __init__(
        self, status: str, header_list: list[tuple[str, str]], body: bytes, url: str
    ) -> None:
        code, _, self.reason = status.partition(" ")
        self.status_code = int(code)
        self.url = url
        self.content = body
        self._header_list = header_list
        self._headers: CaseInsensitiveDict[str] | None = None
        self._full: requests.Response | None = None

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        if self._headers is None:
            self._headers = _merged_headers(self._header_list)
        return self._headers

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self._response().text

    def json(self, **kwargs: Any) -> Any:
        """The body as JSON (`requests.exceptions.JSONDecodeError`, a ValueError, if not)."""
        content_type = next(
            (value for name, value in self._header_list if name.lower() == "content-type"), None
        )
        # the encoding `requests` reads the body in: the type's charset (or its default)...
        encoding = get_encoding_from_headers({"content-type": content_type})
        body = self.content
        if encoding is None:  # ...or its guess from the first bytes: UTF-8 for ASCII ones
            utf8 = len(body) > 3 and body[:1] < b"\x80" and b"\x00" not in body[:4]
        else:
            utf8 = encoding.lower() in ("utf-8", "utf8")
        if not utf8:
            return self._response().json(**kwargs)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return self._response().json(**kwargs)
        try:
            return json.loads(text, **kwargs)
        except json.JSONDecodeError as exc:
            raise requests.exceptions.JSONDecodeError(exc.msg, exc.doc, exc.pos) from None

    def _response(self) -> requests.Response:
        if self._full is None:
            resp = requests.Response()
            resp.status_code = self.status_code
            resp.reason = self.reason
            resp.headers = self.headers
            resp.url = self.url
            resp.encoding = get_encoding_from_headers(self.headers)
            resp._content = self.content
            resp._content_consumed = True
            self._full = resp
        return self._full


def call(
    http: requests.Session, method: str, url: str, **options: Any
) -> Reply | requests.Response:
    """`Session.call` (options `headers`, `data`, `timeout`) on a `Session`, else
    `http.request` with the same options: for a caller that reads only the answer's
    status, headers and body."""
    send = http.call if isinstance(http, Session) else http.request
    return send(method, url, **options)
