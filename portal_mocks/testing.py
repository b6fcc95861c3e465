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
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from simulator.core import forms
from simulator.core.forms import Form


def parse_forms(html: str) -> tuple[list[Form], list[str]]:
    """The page's forms and the texts it shows as errors."""
    return forms.parse(html)


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
