"""A whole simulator in this process, reached with plain `requests` through `responses`.

The test, and the app under test, call `http://connect-sim.test` with `requests` as
they would call the real service; a `responses.RequestsMock` hands each such call to
the simulator's WSGI app in the calling thread. Only routed hosts are answered in
process: every other URL passes through to the network untouched, so the app's
other HTTP keeps working. The mock keeps no log of calls (a long test makes
thousands of them; the simulator's own state is what a test inspects).

Webhooks reach the app in process too: `mount_app(app, "healthapp")` routes
`http://healthapp.localhost` to the app's WSGI callable, so when the simulator
delivers an event to an endpoint under that URL (its outbound `requests` call goes
through the same mock), the app's own handler runs and answers.
"""

from __future__ import annotations

import re
from typing import Any

import responses

from simulator.core.inprocess import route
from simulator.harness.client import ConnectSim
from simulator.testing import Sim

IN_PROCESS_BASE_URL = "http://connect-sim.test"
_EVERYWHERE_ELSE = re.compile(r".*")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class Router(responses.RequestsMock):
    """Routes chosen base URLs to WSGI apps; lets everything else reach the network.

    Unlike a plain `RequestsMock` it forgets each call once answered."""

    def __init__(self) -> None:
        super().__init__(assert_all_requests_are_fired=False)

    def _on_request(self, adapter: Any, request: Any, **kwargs: Any) -> Any:
        try:
            return super()._on_request(adapter, request, **kwargs)
        finally:
            self._calls.reset()
            for match in self.registered():
                match.calls.reset()


class InProcessSim(ConnectSim):
    """A fresh simulator (in-memory store, manual clock) and a fresh workspace in it."""

    def __init__(self, seed: int = 1, base_url: str = IN_PROCESS_BASE_URL) -> None:
        self.sim = Sim(base_url=base_url)
        self.router = Router()
        self.router.start()
        try:
            route(self.router, self.sim.base_url, self.sim.wsgi)
            self.router.add_passthru(_EVERYWHERE_ELSE)
            created = self.sim.client.post(
                "/_sim/workspaces", json={"seed": seed, "clock": "manual"}
            )
            if created.status_code != 200:
                raise RuntimeError(
                    f"could not create a workspace: {created.get_data(as_text=True)}"
                )
        except BaseException:
            self._stop()
            raise
        self._mounted: dict[str, Any] = {}
        super().__init__(self.sim.base_url, created.json["api_key"], created.json)

    def mount_app(self, wsgi_app: Any, name: str = "app") -> str:
        """Route `http://<name>.localhost` to `wsgi_app`: the simulator's webhook deliveries
        (and any `requests` call) to that URL run the app's own handlers in this thread."""
        if not _HOST_LABEL.match(name):
            raise ValueError(f"{name!r} is not a host name label (a-z, 0-9, -)")
        url = f"http://{name}.localhost"
        if url in self._mounted:
            raise ValueError(f"an app is already mounted at {url}")
        route(self.router, url, wsgi_app)
        self._mounted[url] = wsgi_app
        return url

    def route_into(self, mock: responses.RequestsMock) -> None:
        """Answer the simulator (and every mounted app) inside another `RequestsMock`: a
        test that starts its own `responses` mock shadows this one until it stops. Make
        that mock with `assert_all_requests_are_fired=False`: not every route is used."""
        route(mock, self.sim.base_url, self.sim.wsgi)
        for url, wsgi_app in self._mounted.items():
            route(mock, url, wsgi_app)

    def _stop(self) -> None:
        self.router.stop()
        self.router.reset()
        self.sim.close()

    def close(self) -> None:
        super().close()
        self._stop()
