"""A headless browser: what a browser without JavaScript does, over `requests`.

It keeps cookies, follows redirects one at a time (each step recorded in
`trail`), reads the page's HTML forms (`simulator.core.forms`) and submits
them. A redirect that leaves `scope` is recorded, not followed: `left` is then
true and `url` is where it pointed (an app's `return_url` or `redirect_uri`
is not ours to call). `scope` is an origin (`http://sim.test`) or an origin
and a path prefix (`http://sim.test/portals/summit-epic/`); `also` adds more
(an outside SMART server the patient signs in at).

The headless patient (`simulator.clients.patient`) and the mock portals'
test sign-in each walk their own pages with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from simulator.core import forms
from simulator.core.forms import Form

MAX_STEPS = 30
REDIRECTS = (301, 302, 303, 307, 308)


@dataclass
class Step:
    method: str
    url: str
    status: int


class BrowserError(Exception):
    """The browser cannot go on (no such form, too many redirects)."""


class Browser:
    """A cookie-keeping HTTP client that follows redirects one step at a time."""

    def __init__(
        self,
        scope: str,
        timeout: float | None = 10.0,
        session: requests.Session | None = None,
        also: tuple[str, ...] = (),
    ) -> None:
        self.scope = scope
        self.also = also
        if session is None:
            session = requests.Session()
            session.trust_env = False  # the pages are reached directly, never via a proxy
        self.http = session
        self.timeout = timeout
        self.trail: list[Step] = []
        self.url = ""
        self.response: requests.Response | None = None
        self.left = False

    def within(self, url: str) -> bool:
        """True for a URL under `scope` (or under one of `also`)."""
        parts = urlsplit(url)
        for text in (self.scope, *self.also):
            scope = urlsplit(text)
            if (parts.scheme, parts.netloc) == (scope.scheme, scope.netloc) and (
                parts.path or "/"
            ).startswith(scope.path or "/"):
                return True
        return False

    def request(
        self, method: str, url: str, data: dict[str, str] | None = None
    ) -> requests.Response:
        self.left = False
        for _ in range(MAX_STEPS):
            resp = self.http.request(
                method, url, data=data, allow_redirects=False, timeout=self.timeout
            )
            self.trail.append(Step(method.upper(), url, resp.status_code))
            self.url, self.response = url, resp
            if resp.status_code in REDIRECTS and "Location" in resp.headers:
                target = urljoin(url, resp.headers["Location"])
                if not self.within(target):
                    self.url, self.left = target, True
                    return resp
                if resp.status_code in (301, 302, 303):
                    method, data = "GET", None
                url = target
                continue
            return resp
        raise BrowserError(f"more than {MAX_STEPS} redirects from {url}")

    def get(self, url: str) -> requests.Response:
        return self.request("GET", url)

    def forms(self) -> list[Form]:
        """The forms of the page the browser is on (none unless it is HTML)."""
        if self.response is None or "html" not in self.response.headers.get("Content-Type", ""):
            return []
        return forms.parse(self.response.text)[0]

    def find_form(
        self, *, form_id: str | None = None, field_value: tuple[str, str] | None = None
    ) -> Form | None:
        """The first form with this id, or with this value in one of its fields."""
        for form in self.forms():
            if form_id is not None and form.id == form_id:
                return form
            if field_value is not None and form.fields.get(field_value[0]) == field_value[1]:
                return form
        return None

    def form(
        self, *, form_id: str | None = None, field_value: tuple[str, str] | None = None
    ) -> Form:
        """As `find_form`; no such form is a BrowserError."""
        found = self.find_form(form_id=form_id, field_value=field_value)
        if found is None:
            raise BrowserError(f"no form {form_id or field_value} on {self.url}")
        return found

    def submit(
        self,
        form: Form,
        values: dict[str, str] | None = None,
        button: tuple[str, str] | None = None,
    ) -> requests.Response:
        """Send the form with its fields, `values` over them and the pressed `button`."""
        data = dict(form.fields)
        data.update(values or {})
        if button is not None:
            data[button[0]] = button[1]
        target = urljoin(self.url, form.action or self.url)
        return self.request(
            form.method.upper(), target, data=data if form.method == "post" else None
        )
