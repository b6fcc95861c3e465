"""A headless patient for the portals' login and consent pages (tests, benchmarks).

It walks the pages with the shared headless browser (`simulator.core.browser`):
GET the authorize URL, post the login and consent forms with the chosen
username, password and button, follow redirects, and stop at the first
redirect that leaves the portal (the app's `redirect_uri`).

    result = sign_in(session, authorize_url, "alice")          # approve
    result = sign_in(session, authorize_url, "alice", decision="deny")
    result.redirect_url   # https://app.example/cb?code=...&state=...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests

from simulator.core import forms
from simulator.core.browser import Browser
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


def _portal_of(authorize_url: str) -> str:
    """The portal's base URL (`.../portals/<slug>/`) from its authorize URL."""
    parts = urlsplit(authorize_url)
    path = parts.path.rsplit("/authorize", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{path}/"


def sign_in(
    session: requests.Session,
    authorize_url: str,
    username: str,
    password: str = "password",
    decision: str = "approve",
) -> SignIn:
    """Open the authorize URL, log in, and approve or deny at the consent page."""
    browser = Browser(_portal_of(authorize_url), timeout=None, session=session)
    result = SignIn(None)
    browser.get(authorize_url)
    for page, values in (
        ("login", {"username": username, "password": password}),
        ("consent", {"decision": decision}),
    ):
        if browser.left:
            break
        result.last_page = browser.response
        form = browser.find_form(form_id=f"{page}-form")
        if form is None:
            return result
        result.pages.append(page)
        browser.submit(form, values)
    if browser.left:
        result.redirect_url = browser.url
    else:
        result.last_page = browser.response
    return result
