"""Token endpoint requests/s over loopback HTTP against `connect-sim serve`, 1 and 4 clients.

Starts `connect-sim serve` (default options: a WAL file, a real clock) on a free
port, registers an app at `summit-epic` (RFC 7591, the workspace's API key as
the initial access token) and measures, from 1 and from 4 client threads:

* code exchange with an id_token (`openid fhirUser` granted), codes made
  beforehand by authorize, login and consent over HTTP;
* code exchange without an id_token (no `openid fhirUser`);
* refresh (summit-epic does not rotate refresh tokens), for grants with and
  without `openid fhirUser`.

Each loop is bounded by a request count and a time budget. Prints a table and
one JSON line. Compare with smart-launcher-v2 by pointing its own load test at
`/token` of a launcher on the same machine.

    python bench/bench_tokens.py [--seconds 3] [--codes 200] [--clients 1,4] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_serve import free_port, start  # noqa: E402

from portal_mocks.testing import parse_forms  # noqa: E402

SLUG = "summit-epic"
REDIRECT = "https://app.example/callback"
WITH_ID_TOKEN = "launch/patient openid fhirUser offline_access patient/*.read"
WITHOUT_ID_TOKEN = "launch/patient offline_access patient/*.read"


class App:
    """One registered confidential app at the portal, spoken to over HTTP."""

    def __init__(self, base: str, api_key: str) -> None:
        self.portal = f"{base}/portals/{SLUG}"
        http = requests.Session()
        http.trust_env = False
        created = http.post(
            f"{self.portal}/register",
            json={
                "redirect_uris": [REDIRECT],
                "client_name": "bench",
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"],
            },
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=10,
        )
        assert created.status_code == 201, created.text
        info = created.json()
        self.client_id = info["client_id"]
        basic = f"{info['client_id']}:{info['client_secret']}".encode()
        self.auth = {"Authorization": "Basic " + base64.b64encode(basic).decode()}

    def code(self, http: requests.Session, scope: str) -> tuple[str, str]:
        """Authorize, log in and consent: an authorization code and its PKCE verifier."""
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": secrets.token_urlsafe(16),
            "aud": f"{self.portal}/fhir",
            "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        page = http.get(f"{self.portal}/authorize?{urlencode(query)}", timeout=10)
        login = next(f for f in parse_forms(page.text)[0] if f.id == "login-form")
        moved = http.post(
            _absolute(page.url, login.action),
            data={**login.fields, "username": "alice", "password": "pw"},
            allow_redirects=False,
            timeout=10,
        )
        consent_url = _absolute(page.url, moved.headers["Location"])
        consent_page = http.get(consent_url, timeout=10)
        consent = next(f for f in parse_forms(consent_page.text)[0] if f.id == "consent-form")
        done = http.post(
            _absolute(consent_url, consent.action),
            data={**consent.fields, "decision": "approve"},
            allow_redirects=False,
            timeout=10,
        )
        return parse_qs(urlsplit(done.headers["Location"]).query)["code"][0], verifier

    def exchange(self, http: requests.Session, code: str, verifier: str) -> dict:
        resp = http.post(
            f"{self.portal}/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            headers=self.auth,
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()

    def refresh(self, http: requests.Session, refresh_token: str) -> dict:
        resp = http.post(
            f"{self.portal}/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers=self.auth,
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        return resp.json()


def _absolute(base: str, url: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, url)


def _session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    return http


def rate(clients: int, work: list[list], call, seconds: float) -> float:
    """Run `call(http, item)` over each client's items from `clients` threads; requests/s."""
    done = [0] * clients
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        http = _session()
        for item in work[n]:
            if time.perf_counter() >= deadline:
                return
            call(http, item)
            done[n] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def make_codes(app: App, scope: str, count: int) -> list[tuple[str, str]]:
    http = _session()
    return [app.code(http, scope) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--codes", type=int, default=200, help="codes made per measurement")
    parser.add_argument("--refreshes", type=int, default=2000)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers (processes)")
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    port = free_port()
    results: dict[str, dict[int, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc = start(str(Path(tmp) / "sim.db"), port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            created = requests.post(f"{base}/_sim/workspaces", json={"seed": 7}, timeout=10)
            app = App(base, created.json()["api_key"])
            for label, scope, wanted in (
                ("exchange, id_token", WITH_ID_TOKEN, True),
                ("exchange, no id_token", WITHOUT_ID_TOKEN, False),
            ):
                assert ("id_token" in app.exchange(_session(), *app.code(_session(), scope))) is (
                    wanted
                )
                for clients in counts:
                    codes = make_codes(app, scope, args.codes)
                    work = [codes[n::clients] for n in range(clients)]
                    results.setdefault(label, {})[clients] = rate(
                        clients, work, lambda http, c: app.exchange(http, *c), args.seconds
                    )
            for label, scope in (
                ("refresh, openid grant", WITH_ID_TOKEN),
                ("refresh, no openid", WITHOUT_ID_TOKEN),
            ):
                for clients in counts:
                    tokens = [
                        app.exchange(_session(), *app.code(_session(), scope))["refresh_token"]
                        for _ in range(clients)
                    ]
                    per = max(1, args.refreshes // clients)
                    work = [[tokens[n]] * per for n in range(clients)]
                    results.setdefault(label, {})[clients] = rate(
                        clients, work, app.refresh, args.seconds
                    )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(
        f"token endpoint over loopback HTTP (connect-sim serve{workers}, summit-epic), requests/s"
    )
    print(
        f"{'grant':<24}" + "".join(f" {f'{c} client' + ('s' if c > 1 else ''):>10}" for c in counts)
    )
    for label, by_clients in results.items():
        print(f"{label:<24}" + "".join(f" {by_clients[c]:>10.0f}" for c in counts))
    print(json.dumps({"bench": "tokens", "workers": args.workers, "requests_per_s": results}))


if __name__ == "__main__":
    main()
