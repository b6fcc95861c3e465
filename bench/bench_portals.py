"""Mock portal throughput, in-process: token-endpoint requests/s and FHIR search pages/s.

Drives the portal WSGI app through the Werkzeug test client (no sockets) on an
in-memory store: full sign-ins (authorize, login, consent, code exchange), code
exchanges alone (codes made beforehand) with and without an id_token,
refresh-token grants at a non-rotating and a rotating portal, discovery
documents, and FHIR search pages of the 3,200-resource persona `dora` (plain,
`_lastUpdated`, `category`). Every loop is bounded by a request count and a
time budget.

    .venv/bin/python bench/bench_portals.py [--requests N] [--seconds S]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from benchkit import Report

import portal_mocks
from portal_mocks.testing import parse_forms
from simulator.testing import Sim

REDIRECT = "https://app.example/callback"
SCOPE = "launch/patient openid fhirUser offline_access patient/*.read"
NO_ID_TOKEN_SCOPE = "launch/patient offline_access patient/*.read"


REPORT = Report("portals", unit="/s", width=52)


def measure_rate(label: str, call: Callable[[int], None], requests: int, seconds: float) -> float:
    return REPORT.measure(label, call, requests, seconds)


class Portal:
    """One registered app at one portal, driven through the test client."""

    def __init__(self, sim: Sim, ws_id: str, slug: str) -> None:
        self.sim = sim
        self.slug = slug
        self.prefix = f"/portals/{slug}"
        info = portal_mocks.ensure_client(sim.runtime, ws_id, slug, redirect_uris=[REDIRECT])
        basic = base64.b64encode(f"{info.client_id}:{info.client_secret}".encode()).decode()
        self.client_id = info.client_id
        self.auth = {"Authorization": f"Basic {basic}"}

    def sign_in(self, username: str) -> dict:
        return self.exchange(*self.code(username))

    def code(self, username: str, scope: str = SCOPE) -> tuple[str, str]:
        """Authorize, log in and consent: an authorization code and its PKCE verifier."""
        client = self.sim.client
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": secrets.token_urlsafe(16),
            "aud": f"{self.sim.base_url}{self.prefix}/fhir",
            "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        page = client.get(f"{self.prefix}/authorize?{urlencode(query)}")
        login = next(f for f in parse_forms(page.get_data(as_text=True))[0] if f.id == "login-form")
        moved = client.post(
            login.action, data={**login.fields, "username": username, "password": "pw"}
        )
        consent_page = client.get(moved.headers["Location"])
        consent = next(
            f for f in parse_forms(consent_page.get_data(as_text=True))[0] if f.id == "consent-form"
        )
        done = client.post(consent.action, data={**consent.fields, "decision": "approve"})
        return parse_qs(urlsplit(done.headers["Location"]).query)["code"][0], verifier

    def exchange(self, code: str, verifier: str) -> dict:
        resp = self.sim.client.post(
            f"{self.prefix}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            headers=self.auth,
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.json

    def refresh(self, refresh_token: str) -> dict:
        resp = self.sim.client.post(
            f"{self.prefix}/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers=self.auth,
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    with Sim() as sim:
        api, body = sim.new_workspace(seed=1, clock="manual")
        ws_id = api.get("/_sim/workspace").json["id"]
        epic = Portal(sim, ws_id, "summit-epic")
        cerner = Portal(sim, ws_id, "lakeside-cerner")
        print("connect-sim mock portals in-process (werkzeug test client), :memory: store")

        measure_rate(
            "sign-in + code exchange (summit-epic)",
            lambda i: epic.sign_in("alice"),
            args.requests // 10,
            args.seconds,
        )

        for label, scope, wanted in (
            ("exchange + id_token (summit-epic)", SCOPE, True),
            ("exchange, no id_token (summit-epic)", NO_ID_TOKEN_SCOPE, False),
        ):
            codes = [epic.code("alice", scope) for _ in range(max(2, args.requests // 5))]
            assert ("id_token" in epic.exchange(*codes.pop())) is wanted

            def exchange(i: int, codes: list[tuple[str, str]] = codes) -> None:
                epic.exchange(*codes[i])

            measure_rate(f"token endpoint: {label}", exchange, len(codes), args.seconds)

        epic_token = epic.sign_in("alice")
        measure_rate(
            "token endpoint: refresh (summit-epic)",
            lambda i: epic.refresh(epic_token["refresh_token"]),
            args.requests,
            args.seconds,
        )

        state = {"refresh": cerner.sign_in("alice")["refresh_token"]}

        def rotate(i: int) -> None:
            state["refresh"] = cerner.refresh(state["refresh"])["refresh_token"]

        measure_rate(
            "token endpoint: refresh, rotating (cerner)", rotate, args.requests, args.seconds
        )

        for label, path in (
            ("FHIR metadata (CapabilityStatement)", "fhir/metadata"),
            ("SMART configuration", "fhir/.well-known/smart-configuration"),
        ):
            url = f"{epic.prefix}/{path}"

            def discover(i: int, url: str = url) -> None:
                assert sim.client.get(url).status_code == 200

            measure_rate(label, discover, args.requests, args.seconds)

        dora = epic.sign_in("dora")
        headers = {"Authorization": f"Bearer {dora['access_token']}"}
        fhir = f"{epic.prefix}/fhir"
        total = sim.client.get(f"{fhir}/Observation?_count=1", headers=headers).json["total"]
        print(f"dora: {total} Observations")

        def page_of(count: int, query: str = "") -> Callable[[int], None]:
            found = sim.client.get(f"{fhir}/Observation?_count=1{query}", headers=headers)
            pages = max(1, -(-found.json["total"] // count))

            def call(i: int) -> None:
                offset = (i % pages) * count
                resp = sim.client.get(
                    f"{fhir}/Observation?_count={count}&_offset={offset}{query}", headers=headers
                )
                assert resp.status_code == 200, resp.get_data(as_text=True)

            return call

        measure_rate(
            "FHIR search pages, _count=100 (dora)", page_of(100), args.requests, args.seconds
        )
        measure_rate(
            "FHIR search pages, _count=20 (dora)", page_of(20), args.requests, args.seconds
        )
        measure_rate(
            "FHIR search pages, _count=100, _lastUpdated (dora)",
            page_of(100, "&_lastUpdated=ge2010-01-01"),
            args.requests,
            args.seconds,
        )
        measure_rate(
            "FHIR search pages, _count=100, category (dora)",
            page_of(100, "&category=laboratory"),
            args.requests,
            args.seconds,
        )
        measure_rate(
            "FHIR read Patient (dora)",
            lambda i: sim.client.get(f"{fhir}/Patient/{dora['patient']}", headers=headers),
            args.requests,
            args.seconds,
        )
    REPORT.json(transport="werkzeug test client", store="memory")


if __name__ == "__main__":
    main()
