"""The headless patient: drives the hosted pages and the portal pages over HTTP, like a browser.

It follows redirects one by one, reads HTML forms (action, method, inputs) and
submits them. It never calls the simulator's internals, so it works against
the simulator in this process (routed with `responses`) or over the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from simulator.core import forms
from simulator.core.forms import Form

MAX_STEPS = 30


def parse_forms(html: str) -> list[Form]:
    return forms.parse(html)[0]


@dataclass
class Step:
    method: str
    url: str
    status: int


class PatientError(Exception):
    """The patient could not go on (no such form, too many redirects...)."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Browser:
    """A cookie-keeping HTTP client that follows redirects one step at a time.

    Redirects leaving `origin` (the simulator and its portals) are recorded, not
    followed: the app behind a return_url is not ours to call.
    """

    def __init__(self, origin: str, timeout: float = 10.0) -> None:
        self.origin = origin
        self.http = requests.Session()
        self.http.trust_env = False  # the simulator is reached directly, never via a proxy
        self.timeout = timeout
        self.trail: list[Step] = []
        self.url = ""
        self.response: requests.Response | None = None

    def request(
        self, method: str, url: str, data: dict[str, str] | None = None
    ) -> requests.Response:
        for _ in range(MAX_STEPS):
            resp = self.http.request(
                method, url, data=data, allow_redirects=False, timeout=self.timeout
            )
            self.trail.append(Step(method.upper(), url, resp.status_code))
            self.url, self.response = url, resp
            if resp.status_code in (301, 302, 303, 307, 308) and "Location" in resp.headers:
                target = urljoin(url, resp.headers["Location"])
                if origin_of(target) != self.origin:
                    self.url = target
                    return resp
                if resp.status_code in (301, 302, 303):
                    method, data = "GET", None
                url = target
                continue
            return resp
        raise PatientError(f"more than {MAX_STEPS} redirects from {url}")

    def get(self, url: str) -> requests.Response:
        return self.request("GET", url)

    def forms(self) -> list[Form]:
        if self.response is None or "html" not in self.response.headers.get("Content-Type", ""):
            return []
        return parse_forms(self.response.text)

    def form(
        self, *, form_id: str | None = None, field_value: tuple[str, str] | None = None
    ) -> Form:
        for form in self.forms():
            if form_id is not None and form.id == form_id:
                return form
            if field_value is not None and form.fields.get(field_value[0]) == field_value[1]:
                return form
        raise PatientError(f"no form {form_id or field_value} on {self.url}")

    def submit(
        self,
        form: Form,
        values: dict[str, str] | None = None,
        button: tuple[str, str] | None = None,
    ) -> requests.Response:
        data = dict(form.fields)
        data.update(values or {})
        if button is not None:
            data[button[0]] = button[1]
        target = urljoin(self.url, form.action or self.url)
        return self.request(
            form.method.upper(), target, data=data if form.method == "post" else None
        )


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
    if origin_of(url) != browser.origin:
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
) -> Result:
    """Open the session link, choose the source (Picker), log in at the portal, consent."""
    browser = Browser(origin_of(session_url), timeout)
    browser.get(session_url)
    if browser.url.startswith(session_url) and browser.response is not None:
        if browser.response.status_code != 200:
            return _classify(browser, session_url)
        if source_id is None:
            raise PatientError("Picker mode needs a source to choose")
        browser.submit(browser.form(field_value=("source", source_id)))
    if not _at_portal_form(browser, "login-form"):
        return _classify(browser, session_url)
    login = browser.form(form_id="login-form")
    browser.submit(login, {"username": username, "password": password})
    if _at_portal_form(browser, "consent-form"):
        consent_form = browser.form(form_id="consent-form")
        decision = "approve" if consent == "approve" else "deny"
        browser.submit(consent_form, button=("decision", decision))
    return _classify(browser, session_url)


def open_portal(session_url: str, *, source_id: str | None, timeout: float = 10.0) -> Result:
    """Open the link and get as far as the portal's login page, then walk away."""
    browser = Browser(origin_of(session_url), timeout)
    browser.get(session_url)
    if (
        source_id is not None
        and browser.url.startswith(session_url)
        and browser.response is not None
        and browser.response.status_code == 200
    ):
        browser.submit(browser.form(field_value=("source", source_id)))
    return _classify(browser, session_url)


def done(session_url: str, timeout: float = 10.0) -> Result:
    """Press Done on the completion screen."""
    browser = Browser(origin_of(session_url), timeout)
    browser.get(session_url.rstrip("/") + "/complete")
    if browser.response is not None and browser.response.status_code == 200:
        browser.submit(browser.form(form_id="done-form"))
    return _classify(browser, session_url)


def _at_portal_form(browser: Browser, form_id: str) -> bool:
    try:
        browser.form(form_id=form_id)
    except PatientError:
        return False
    return True
