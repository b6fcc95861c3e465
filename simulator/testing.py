"""Helpers for pytest users: an in-process simulator and a small API client.

from simulator.testing import Sim
sim = Sim()                 # in-memory store, manual clock, portals mounted
api = sim.api()             # default workspace
api.post("/patients", {"patient_id": "p1"}).json
sim.advance(api, 60)
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from werkzeug.test import Client, TestResponse

from simulator.compose import build_runtime, build_wsgi
from simulator.core.config import Config
from simulator.core.inprocess import InProcess
from simulator.core.transport import recorded

DEFAULT_TEST_KEY = "mb_sk_sbx_test_default_workspace_key"
# A PostgreSQL URL here makes every Sim that would live in memory use a fresh schema of that
# database instead (dropped when the Sim closes): the suite's run on PostgreSQL.
TEST_DB_ENV = "CONNECT_SIM_TEST_DB"
TEST_BASE_URL = "http://sim.test"


class Api:
    """Calls the simulator with one workspace's API key."""

    def __init__(self, client: Client, api_key: str) -> None:
        self.client = client
        self.api_key = api_key

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", **(headers or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> TestResponse:
        return self.client.get(path, query_string=params or None, headers=self._headers(headers))

    def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> TestResponse:
        return self.client.post(path, json=body, headers=self._headers(headers))

    def put(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> TestResponse:
        return self.client.put(path, json=body, headers=self._headers(headers))

    def patch(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> TestResponse:
        return self.client.patch(path, json=body, headers=self._headers(headers))

    def delete(self, path: str, headers: dict[str, str] | None = None) -> TestResponse:
        return self.client.delete(path, headers=self._headers(headers))

    # -- the headless patient (drives the hosted pages over HTTP) ----------------------

    def connect(
        self,
        session_id: str,
        username: str = "alice",
        source: str | None = None,
        consent: str = "approve",
        password: str = "password",
    ) -> dict[str, Any]:
        """Open the session link, choose `source` (Picker), log in as `username`, consent.

        Answers `{"connection", "location", "stopped_at", "status_code", "session"}`.
        """
        body: dict[str, Any] = {"username": username, "consent": consent, "password": password}
        if source is not None:
            body["source"] = source
        return self._ok(self.post(f"/_sim/patient-sessions/{session_id}/connect", body))

    def done(self, session_id: str) -> dict[str, Any]:
        """Press Done on the completion screen; `return_url` is where the browser lands."""
        return self._ok(self.post(f"/_sim/patient-sessions/{session_id}/done"))

    def abandon(self, session_id: str, source: str | None = None) -> dict[str, Any]:
        """Open the link (and the portal's login page for `source`), then walk away."""
        body = {} if source is None else {"source": source}
        return self._ok(self.post(f"/_sim/patient-sessions/{session_id}/abandon", body))

    @staticmethod
    def _ok(resp: TestResponse) -> dict[str, Any]:
        if resp.status_code != 200:
            raise AssertionError(f"{resp.status_code}: {resp.get_data(as_text=True)}")
        return resp.json

    def advance(self, seconds: float) -> dict[str, Any]:
        return self.post("/_sim/clock/advance", {"seconds": seconds}).json

    def now(self) -> str:
        return self.get("/_sim/clock").json["now"]


class Sim:
    """A whole simulator in this process: runtime, WSGI app, and outbound HTTP routed in."""

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        base = {
            "db_path": ":memory:",
            "base_url": TEST_BASE_URL,
            "default_clock": "manual",
            "default_api_key": DEFAULT_TEST_KEY,
        }
        base.update(overrides)
        config = config or Config(**base)
        self._schema: tuple[str, str] | None = None
        server = os.environ.get(TEST_DB_ENV, "")
        if config.db_path == ":memory:" and server:
            from simulator.core.store_pg import create_schema

            name = "sim_" + secrets.token_hex(6)
            config.db_path = create_schema(server, name)
            self._schema = (server, name)
        self.runtime = build_runtime(config)
        self.wsgi = build_wsgi(self.runtime)
        self.client = Client(self.wsgi)
        self._routing: InProcess | None = None

    @property
    def base_url(self) -> str:
        return self.runtime.base_url

    def api(self, api_key: str | None = None) -> Api:
        return Api(self.client, api_key or self.runtime.default_api_key)

    def new_workspace(self, **body: Any) -> tuple[Api, dict[str, Any]]:
        """Create a workspace (manual clock unless told) and a client for it."""
        body.setdefault("clock", "manual")
        created = self.client.post("/_sim/workspaces", json=body).json
        return self.api(created["api_key"]), created

    def route_outbound(self, passthru: tuple[str, ...] = ()) -> InProcess:
        """Route other code's `requests` calls to this simulator's base URL into its WSGI app.

        The simulator's own calls are answered in process already; this is for test
        code (or an app under test) that calls the simulator with plain `requests`.
        """
        if self._routing is None:
            self._routing = InProcess(self.wsgi, self.base_url, passthru)
            self._routing.__enter__()
        else:  # already routing: these prefixes reach the network from now on too
            for prefix in passthru:
                self._routing.mock.add_passthru(prefix)
        return self._routing

    def record_outbound(self) -> list[Any]:
        """From now on, keep every request the simulator sends to its own base URL
        (portals, pages, inboxes) in the returned list, oldest first."""
        adapter = self.runtime.http.get_adapter(self.base_url + "/")
        sent: list[Any] = []
        answer = adapter.answer

        def recording(request: Any, timeout: Any = None) -> Any:
            sent.append(recorded(request))
            return answer(request, timeout)

        adapter.answer = recording  # type: ignore[method-assign]
        return sent

    def close(self) -> None:
        if self._routing is not None:
            self._routing.__exit__(None, None, None)
            self._routing = None
        self.runtime.close()
        if self._schema is not None:
            from simulator.core.store_pg import drop_schema

            drop_schema(*self._schema)
            self._schema = None

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
