"""Token endpoint requests/s over loopback HTTP against `connect-sim serve`, 1 and 4 clients.

Starts `connect-sim serve` (default options: a WAL file, a real clock) on a free
port, registers an app at `summit-epic` (RFC 7591, the workspace's API key as
the initial access token) and measures, from 1 and from 4 client threads:

* code exchange with an id_token (`openid fhirUser` granted), codes made
  beforehand by authorize, login and consent over HTTP;
* code exchange without an id_token (no `openid fhirUser`);
* refresh (summit-epic does not rotate refresh tokens), for grants with and
  without `openid fhirUser`.

Each loop is bounded by a request count and a time budget. With `--launcher`, the
backend of SMART's smart-launcher-v2 (vendored in `bench/launcher`, installed by
`make launcher`) runs beside it on the same machine and gets the same four loads, each
measured right after ours (its codes come from its own authorize, which skips login
and consent when the launch says so; it keeps no state, so a refresh token stays
valid). Prints a table and one JSON line.

    python bench/bench_tokens.py [--seconds 3] [--codes 200] [--clients 1,4] [--workers 2]
    python bench/bench_tokens.py --launcher
    python bench/bench_tokens.py --launcher --floor

With `--floor`, bench/floor_app.py (a fixed token answer on waitress, the server
`connect-sim serve` runs on, with its 8 threads) gets the same loads too: the most any
token endpoint served by waitress answers on this machine, whatever it does.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


class TokenClient:
    """One confidential client's token requests (Basic authentication) to `token_url`."""

    token_url: str
    auth: dict[str, str]

    def exchange(self, http: requests.Session, code: str, verifier: str) -> dict:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        }
        return self._token(http, form)

    def refresh(self, http: requests.Session, refresh_token: str) -> dict:
        return self._token(http, {"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, http: requests.Session, form: dict[str, str]) -> dict:
        resp = http.post(self.token_url, data=form, headers=self.auth, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()


def authorize_query(client_id: str, scope: str, aud: str) -> tuple[dict[str, str], str]:
    """An authorization request's parameters (PKCE S256) and the code verifier."""
    verifier, challenge = _pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "aud": aud,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return query, verifier


class App(TokenClient):
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
        self.token_url = f"{self.portal}/token"
        basic = f"{info['client_id']}:{info['client_secret']}".encode()
        self.auth = {"Authorization": "Basic " + base64.b64encode(basic).decode()}

    def code(self, http: requests.Session, scope: str) -> tuple[str, str]:
        """Authorize, log in and consent: an authorization code and its PKCE verifier."""
        query, verifier = authorize_query(self.client_id, scope, f"{self.portal}/fhir")
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


def _pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _await(proc: subprocess.Popen, probe: Callable[[], object], name: str) -> None:
    """Wait until `probe` gets an answer from the server `proc` started (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            probe()
            return
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start") from None
            time.sleep(0.1)


LAUNCHER_DIR = Path(__file__).resolve().parent / "launcher"


class Launcher(TokenClient):
    """smart-launcher-v2's backend on a free port: a patient-standalone launch for one
    confidential client whose login and consent the launch skips."""

    def __init__(self, port: int) -> None:
        ts_node = LAUNCHER_DIR / "node_modules" / ".bin" / "ts-node"
        if not ts_node.exists():
            raise SystemExit("bench/launcher is not installed: run `make launcher`")
        env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "NODE_ENV": "production"}
        self.proc = subprocess.Popen(
            [str(ts_node), "--skipProject", "--transpile-only", "backend/index.ts"],
            cwd=LAUNCHER_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # launch options (the launcher's own codec): patient-standalone, patient "bench-1",
        # skip login and consent, one confidential-symmetric client, PKCE when sent
        options = [3, "bench-1", "", "", 1, 1, 0, "", REDIRECT, "bench", "secret"]
        options += ["", "", "", 1, 1, ""]
        sim = base64.urlsafe_b64encode(json.dumps(options).encode()).rstrip(b"=").decode()
        self.base = f"http://127.0.0.1:{port}/v/r4/sim/{sim}"
        self.token_url = f"{self.base}/auth/token"
        self.auth = {"Authorization": "Basic " + base64.b64encode(b"bench:secret").decode()}
        probe = f"{self.base}/fhir/.well-known/smart-configuration"
        _await(self.proc, lambda: requests.get(probe, timeout=2), "smart-launcher-v2")

    def code(self, http: requests.Session, scope: str) -> tuple[str, str]:
        query, verifier = authorize_query("bench", scope, f"{self.base}/fhir")
        moved = http.get(
            f"{self.base}/auth/authorize?{urlencode(query)}", allow_redirects=False, timeout=10
        )
        return parse_qs(urlsplit(moved.headers["Location"]).query)["code"][0], verifier

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


class Floor(TokenClient):
    """bench/floor_app.py on a free port: a fixed token answer on waitress, no OAuth work."""

    def __init__(self, port: int) -> None:
        script = Path(__file__).resolve().parent / "floor_app.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.token_url = f"http://127.0.0.1:{port}/token"
        self.auth = {"Authorization": "Basic " + base64.b64encode(b"bench:secret").decode()}
        ping = {"grant_type": "ping"}
        _await(self.proc, lambda: requests.post(self.token_url, data=ping, timeout=2), "floor")

    def code(self, http: requests.Session, scope: str) -> tuple[str, str]:
        return secrets.token_urlsafe(32), secrets.token_urlsafe(48)  # any code: not checked

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


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


def make_codes(server: App | Launcher | Floor, scope: str, count: int) -> list[tuple[str, str]]:
    http = _session()
    return [server.code(http, scope) for _ in range(count)]


EXCHANGES = (
    ("exchange, id_token", WITH_ID_TOKEN, True),
    ("exchange, no id_token", WITHOUT_ID_TOKEN, False),
)
REFRESHES = (("refresh, openid grant", WITH_ID_TOKEN), ("refresh, no openid", WITHOUT_ID_TOKEN))


def measure_exchange(
    server: App | Launcher | Floor, scope: str, clients: int, args: argparse.Namespace
) -> float:
    codes = make_codes(server, scope, args.codes)
    work = [codes[n::clients] for n in range(clients)]
    return rate(clients, work, lambda http, c: server.exchange(http, *c), args.seconds)


def measure_refresh(
    server: App | Launcher | Floor, scope: str, clients: int, args: argparse.Namespace
) -> float:
    tokens = [
        server.exchange(_session(), *server.code(_session(), scope))["refresh_token"]
        for _ in range(clients)
    ]
    per = max(1, args.refreshes // clients)
    work = [[tokens[n]] * per for n in range(clients)]
    return rate(clients, work, server.refresh, args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--codes", type=int, default=200, help="codes made per measurement")
    parser.add_argument("--refreshes", type=int, default=2000)
    parser.add_argument("--clients", default="1,4")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers (processes)")
    parser.add_argument(
        "--launcher", action="store_true", help="smart-launcher-v2 beside it (make launcher)"
    )
    parser.add_argument(
        "--floor", action="store_true", help="a fixed answer on waitress beside it (floor_app)"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    port = free_port()
    servers: dict[str, App | Launcher | Floor] = {}
    results: dict[str, dict[str, dict[int, float]]] = {}
    launcher: Launcher | None = None
    floor: Floor | None = None
    with tempfile.TemporaryDirectory() as tmp:
        proc = start(str(Path(tmp) / "sim.db"), port, args.workers)
        try:
            base = f"http://127.0.0.1:{port}"
            created = requests.post(f"{base}/_sim/workspaces", json={"seed": 7}, timeout=10)
            servers["connect-sim"] = App(base, created.json()["api_key"])
            if args.launcher:
                launcher = Launcher(free_port())
                servers["smart-launcher-v2"] = launcher
            if args.floor:
                floor = Floor(free_port())
                servers["waitress floor"] = floor
            for label, scope, wanted in EXCHANGES:
                for name, server in servers.items():
                    answer = server.exchange(_session(), *server.code(_session(), scope))
                    assert server is floor or ("id_token" in answer) is wanted, (name, label)
                for clients in counts:
                    for name, server in servers.items():  # side by side: one right after the other
                        results.setdefault(name, {}).setdefault(label, {})[clients] = (
                            measure_exchange(server, scope, clients, args)
                        )
            for label, scope in REFRESHES:
                for clients in counts:
                    for name, server in servers.items():
                        results.setdefault(name, {}).setdefault(label, {})[clients] = (
                            measure_refresh(server, scope, clients, args)
                        )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
            for other in (launcher, floor):
                if other is not None:
                    other.stop()
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(
        f"token endpoint over loopback HTTP (connect-sim serve{workers}: summit-epic), requests/s"
    )
    heads = [f"{c} client" + ("s" if c > 1 else "") for c in counts]
    print(f"{'grant':<24} {'server':<18}" + "".join(f" {h:>10}" for h in heads))
    for label in results["connect-sim"]:
        for name, by_label in results.items():
            by_clients = by_label[label]
            print(f"{label:<24} {name:<18}" + "".join(f" {by_clients[c]:>10.0f}" for c in counts))
    print(
        json.dumps(
            {
                "bench": "tokens",
                "workers": args.workers,
                "requests_per_s": results["connect-sim"],
                **(
                    {"launcher_requests_per_s": results["smart-launcher-v2"]}
                    if "smart-launcher-v2" in results
                    else {}
                ),
                **(
                    {"floor_requests_per_s": results["waitress floor"]}
                    if "waitress floor" in results
                    else {}
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
