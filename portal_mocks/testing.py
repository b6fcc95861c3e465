"""A headless patient for the portals' login and consent pages (tests, benchmarks).

It does what a browser does without JavaScript: GET the authorize URL, read
the `<form>`s of the page, post them with the chosen username, password and
button, follow redirects, and stop at the first redirect that leaves the
portal (the app's `redirect_uri`).

    result = sign_in(session, authorize_url, "alice")          # approve
    result = sign_in(session, authorize_url, "alice", decision="deny")
    result.redirect_url   # https://app.example/cb?code=...&state=...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests


@dataclass
class Form:
    id: str | None
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._current: Form | None = None
        self.errors: list[str] = []
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("id"), a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._current)
        elif tag == "input" and self._current is not None and a.get("name"):
            if a.get("type") == "submit":
                self._current.buttons.append((a["name"], a.get("value", "")))
            else:
                self._current.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self._current is not None and a.get("name"):
            self._current.buttons.append((a["name"], a.get("value", "")))
        elif "error" in a.get("class", ""):
            self._in_error = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        if tag == "p":
            self._in_error = False

    def handle_data(self, data: str) -> None:
        if self._in_error and data.strip():
            self.errors.append(data.strip())


def parse_forms(html: str) -> tuple[list[Form], list[str]]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms, parser.errors


@dataclass
class SignIn:
    """Where the patient's browser ended."""

    redirect_url: str | None  # the redirect that left the portal, if any
    last_page: requests.Response | None = None
    pages: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        if not self.redirect_url:
            return {}
        return {k: v[0] for k, v in parse_qs(urlsplit(self.redirect_url).query).items()}

    @property
    def errors(self) -> list[str]:
        if self.last_page is None:
            return []
        return parse_forms(self.last_page.text)[1]


def _follow(
    session: requests.Session, resp: requests.Response, portal_prefix: str, result: SignIn
) -> requests.Response | None:
    """Follow redirects while they stay at the portal; None when one leaves it."""
    hops = 0
    while resp.is_redirect and hops < 10:
        target = urljoin(resp.url, resp.headers["Location"])
        if not target.startswith(portal_prefix):
            result.redirect_url = target
            return None
        resp = session.get(target, allow_redirects=False)
        hops += 1
    return resp


def _form(resp: requests.Response, form_id: str) -> Form | None:
    forms, _ = parse_forms(resp.text)
    return next((f for f in forms if f.id == form_id), None)


def sign_in(
    session: requests.Session,
    authorize_url: str,
    username: str,
    password: str = "password",
    decision: str = "approve",
) -> SignIn:
    """Open the authorize URL, log in, and approve or deny at the consent page."""
    parts = urlsplit(authorize_url)
    path = parts.path.rsplit("/authorize", 1)[0]
    prefix = f"{parts.scheme}://{parts.netloc}{path}/"
    result = SignIn(None)
    resp = _follow(session, session.get(authorize_url, allow_redirects=False), prefix, result)
    if resp is None:
        return result
    result.last_page = resp
    login = _form(resp, "login-form")
    if login is None:
        return result
    result.pages.append("login")
    resp = session.post(
        urljoin(resp.url, login.action),
        data={**login.fields, "username": username, "password": password},
        allow_redirects=False,
    )
    resp = _follow(session, resp, prefix, result)
    if resp is None:
        return result
    result.last_page = resp
    consent = _form(resp, "consent-form")
    if consent is None:
        return result
    result.pages.append("consent")
    resp = session.post(
        urljoin(resp.url, consent.action),
        data={**consent.fields, "decision": decision},
        allow_redirects=False,
    )
    resp = _follow(session, resp, prefix, result)
    if resp is not None:
        result.last_page = resp
    return result
