"""The headless patient: drives the hosted pages and the portal pages over HTTP, like a browser.

Its browser (`simulator.core.browser`) follows redirects one by one, reads HTML
forms and submits them, and stops at a redirect leaving the simulator's origin.
It never calls the simulator's internals: given the runtime's session
(`Runtime.browser_session`), its requests to this process go through the
in-process transport; given none, over the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from simulator.core.browser import Browser, Step


class PatientError(Exception):
    """The patient cannot go on (Picker mode without a source to choose)."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class Result:
    """Where the patient ended: the URL reached and the trail of requests."""

    location: str
    status: int
    trail: list[Step]
    stopped_at: str  # "return_url", "completion", "portal", "hosted_page"


def _classify(browser: Browser, session_url: str) -> Result:
    status = browser.response.status_code if browser.response is not None else 0
    url = browser.url
    if browser.left:
        where = "return_url"
    elif url.startswith(session_url) and url.rstrip("/").endswith("/complete"):
        where = "completion"
    elif "/portals/" in url:
        where = "portal"
    else:
        where = "hosted_page"
    return Result(location=url, status=status, trail=list(browser.trail), stopped_at=where)


def connect(
    session_url: str,
    *,
    source_id: str | None,
    username: str,
    password: str = "password",
    consent: str = "approve",
    timeout: float = 10.0,
    session: requests.Session | None = None,
    at_portal: Callable[[], None] | None = None,
    portal_origin: str | None = None,
) -> Result:
    """Open the session link, choose the source (Picker), log in at the portal, consent.

    `at_portal`, when given, is called on the portal's login page before signing in
    (the patient lingering there while time passes). `portal_origin` is an outside
    SMART server's origin the browser follows redirects into (besides the simulator's).
    """
    also = (portal_origin,) if portal_origin else ()
    browser = Browser(origin_of(session_url), timeout, session, also)
    browser.get(session_url)
    if browser.url.startswith(session_url) and browser.response is not None:
        if browser.response.status_code != 200:
            return _classify(browser, session_url)
        if source_id is None:
            raise PatientError("Picker mode needs a source to choose")
        browser.submit(browser.form(field_value=("source", source_id)))
    login = browser.find_form(form_id="login-form")
    if login is None:
        return _classify(browser, session_url)
    if at_portal is not None:
        at_portal()
    browser.submit(login, {"username": username, "password": password})
    consent_form = browser.find_form(form_id="consent-form")
    if consent_form is not None:
        decision = "approve" if consent == "approve" else "deny"
        browser.submit(consent_form, button=("decision", decision))
    return _classify(browser, session_url)


def open_portal(
    session_url: str,
    *,
    source_id: str | None,
    timeout: float = 10.0,
    session: requests.Session | None = None,
    portal_origin: str | None = None,
) -> Result:
    """Open the link and get as far as the portal's login page, then walk away."""
    also = (portal_origin,) if portal_origin else ()
    browser = Browser(origin_of(session_url), timeout, session, also)
    browser.get(session_url)
    if (
        source_id is not None
        and browser.url.startswith(session_url)
        and browser.response is not None
        and browser.response.status_code == 200
    ):
        browser.submit(browser.form(field_value=("source", source_id)))
    return _classify(browser, session_url)


def done(
    session_url: str, timeout: float = 10.0, session: requests.Session | None = None
) -> Result:
    """Press Done on the completion screen."""
    browser = Browser(origin_of(session_url), timeout, session)
    browser.get(session_url.rstrip("/") + "/complete")
    if browser.response is not None and browser.response.status_code == 200:
        browser.submit(browser.form(form_id="done-form"))
    return _classify(browser, session_url)
