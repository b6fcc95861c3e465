"""Helpers for pytest users: an in-process simulator and a small API client.

from simulator.testing import Sim
sim = Sim()                 # in-memory store, manual clock, portals mounted
api = sim.api()             # default workspace
api.post("/patients", {"patient_id": "p1"}).json
sim.advance(api, 60)
"""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client, TestResponse

from .config import Config
from .inprocess import InProcess
from .runtime import Runtime
from .server import build_wsgi

DEFAULT_TEST_KEY = "mb_sk_sbx_test_default_workspace_key"
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
        self.runtime = Runtime(config or Config(**base))
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
        """Route outbound HTTP to this simulator's base URL into the WSGI app."""
        if self._routing is None:
            self._routing = InProcess(self.wsgi, self.base_url, passthru)
            self._routing.__enter__()
        return self._routing

    def close(self) -> None:
        if self._routing is not None:
            self._routing.__exit__(None, None, None)
            self._routing = None
        self.runtime.close()

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
