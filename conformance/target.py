"""What the suite runs against: a base URL over HTTP, or a simulator in this process.

The in-process target is the one place in the suite that touches simulator code,
and only its public test entry point (`simulator.testing.Sim`), to get a WSGI app
to talk HTTP to. The checks, the reference model and the exploration see only a
`Client`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.http import Client, RequestsTransport, Transport, WsgiTransport
from conformance.results import CheckFailed, Skipped

IN_PROCESS_BASE_URL = "http://sim.test"


@dataclass
class Target:
    """A Connect API implementation: where it is, how to reach it, and with which key."""

    base_url: str
    transport: Transport
    api_key: str | None = None
    label: str = ""
    _control: bool | None = field(default=None, repr=False)

    def client(self, api_key: str | None = None) -> Client:
        return Client(self.transport, self.base_url, api_key or self.api_key)

    @property
    def has_control_plane(self) -> bool:
        """True when the target serves the simulator's `/_sim` control plane."""
        if self._control is None:
            reply = self.client().call("GET", "/_sim/faults/catalog", auth=False)
            self._control = reply.status == 200 and isinstance(reply.json, dict | list)
        return self._control

    def workspace(self, seed: int, clock: str = "manual") -> Client:
        """A client for a fresh workspace (control plane), else one for the given key."""
        if not self.has_control_plane:
            if not self.api_key:
                raise Skipped("no control plane and no --api-key to run with")
            return self.client()
        created = self.client().expect(
            "POST", "/_sim/workspaces", 200, {"seed": seed, "clock": clock}, auth=False
        )
        return self.client(created["api_key"])


def http_target(base_url: str, api_key: str | None = None, timeout: float = 60.0) -> Target:
    return Target(base_url.rstrip("/"), RequestsTransport(timeout), api_key, label=base_url)


def in_process_target(**config: Any) -> Target:
    """A fresh simulator in this process (in-memory store, manual clocks)."""
    from simulator.testing import Sim

    sim = Sim(base_url=IN_PROCESS_BASE_URL, **config)
    target = Target(sim.base_url, WsgiTransport(sim.wsgi), None, label="in-process simulator")
    target.sim = sim  # type: ignore[attr-defined]  # kept alive with the target
    return target


def require(condition: bool, message: str) -> None:
    """Fail the running check unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)
