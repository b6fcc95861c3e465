"""A simulator workspace seen from a test: the Connect API, the headless patient, the clock.

Everything here is plain HTTP with `requests`, so the same helpers work against a
simulator in this process (its base URL routed in by `responses`) and against a
`connect-sim serve` process. `ConnectSim.mount_app` is the one thing that differs:
how the simulator's webhook deliveries reach the app under test.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from scenarios.durations import parse_duration

TIMEOUT_S = 30.0


class SimError(AssertionError):
    """A simulator call answered something other than 2xx."""

    def __init__(self, method: str, path: str, resp: requests.Response) -> None:
        self.status_code = resp.status_code
        try:
            self.body: Any = resp.json()
        except ValueError:
            self.body = resp.text
        super().__init__(f"{method} {path} answered {resp.status_code}: {resp.text[:500]}")


class ConnectSim:
    """One workspace of a simulator: its API key, fresh objects, a manual clock."""

    def __init__(self, base_url: str, api_key: str, workspace: dict[str, Any]) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.workspace = workspace
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {api_key}"
        self.patient = Patient(self)
        self.clock = Clock(self)
        self._sources: list[dict[str, Any]] | None = None

    # -- raw HTTP -----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
        """A call with this workspace's key; `path` is relative to the base URL."""
        return self.http.request(
            method,
            self.base_url + path,
            json=body,
            params=params or None,
            timeout=TIMEOUT_S,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.request("GET", path, **params)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any = None) -> requests.Response:
        return self.request("PUT", path, body)

    def patch(self, path: str, body: Any = None) -> requests.Response:
        return self.request("PATCH", path, body)

    def delete(self, path: str) -> requests.Response:
        return self.request("DELETE", path)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        """The JSON of a call that must succeed; anything else raises `SimError`."""
        resp = self.request(method, path, body, **params)
        if not resp.ok:
            raise SimError(method, path, resp)
        return resp.json()

    @property
    def env(self) -> dict[str, str]:
        """The base URL and key as environment variables (for an app in another process)."""
        return {"CONNECT_SIM_BASE_URL": self.base_url, "CONNECT_SIM_API_KEY": self.api_key}

    # -- catalog, sessions ----------------------------------------------------------------

    def source(self, name: str) -> str:
        """The `fhirsrc_` id of a catalog entry: its id, portal slug (`summit-epic`) or a
        case-insensitive part of its name (`epic`, `Lakeside`)."""
        if self._sources is None:
            self._sources = self.call("GET", "/connections", limit=100)["data"]
        wanted = name.lower()
        for source in self._sources:
            if source["id"] == name or f"/portals/{wanted}/" in source["fhir_base_url"] + "/":
                return source["id"]
        found = [s["id"] for s in self._sources if wanted in s["name"].lower()]
        if len(found) != 1:
            names = ", ".join(s["name"] for s in self._sources)
            raise LookupError(f"{len(found)} catalog entries match {name!r} (there are {names})")
        return found[0]

    def last_session(self, patient_id: str) -> dict[str, Any]:
        """The patient's newest patient session."""
        page = self.call("GET", f"/patients/{patient_id}/patient-sessions", limit=1)
        if not page["data"]:
            raise LookupError(f"patient {patient_id!r} has no patient session")
        return page["data"][0]

    # -- webhooks ---------------------------------------------------------------------------

    def webhook(self, url: str, events: Iterable[str] = ("*",)) -> dict[str, Any]:
        """Register a webhook endpoint; the answer holds its `secret` (shown only here)."""
        return self.call("POST", "/webhooks", {"url": url, "events": list(events)})

    def inbox(self, **settings: Any) -> Inbox:
        """A receiver inside the simulator (`sequence=[500, 200]`, `status`, `delay_ms`,
        `secret`), registered as a webhook endpoint unless `register=False`."""
        register = settings.pop("register", True)
        box = Inbox(self, self.call("POST", "/_sim/inboxes", settings))
        if register:
            box.endpoint = self.webhook(box.url)
        return box

    def events(self, type: str | None = None) -> list[dict[str, Any]]:
        """The newest 100 events the workspace emitted, newest first (`/_sim/events`)."""
        params: dict[str, Any] = {"limit": 100}
        if type is not None:
            params["type"] = type
        return self.call("GET", "/_sim/events", **params)["data"]

    def deliveries(self, endpoint_id: str) -> list[dict[str, Any]]:
        """The endpoint's newest 100 event records (`attempts`, `delivered_at`,
        `next_attempt_at`)."""
        return self.call("GET", f"/webhooks/{endpoint_id}/events", limit=100)["data"]

    def fire(self, type: str, **body: Any) -> dict[str, Any]:
        """Fire an event for an existing object (`object_id=`, or `patient_id=` and
        `connection_id=` for the records events)."""
        return self.call("POST", "/_sim/events", {"type": type, **body})

    # -- connections and faults ---------------------------------------------------------------

    def connection(self, conn_id: str) -> dict[str, Any]:
        """A connection with token expiry, last pull and scheduled work (`/_sim/connections`)."""
        return self.call("GET", f"/_sim/connections/{conn_id}")

    def refresh_failure(self, conn_id: str) -> dict[str, Any]:
        """The portal revokes the grant now; the refresh tried at once fails."""
        return self.call("POST", f"/_sim/connections/{conn_id}/refresh-failure")

    def pull(self, conn_id: str) -> dict[str, Any]:
        """Pull the connection's records now."""
        return self.call("POST", f"/_sim/connections/{conn_id}/pull")

    def portal_fault(self, portal: str, fault: str, **options: Any) -> dict[str, Any]:
        """Apply a failure-catalog fault (`arg`, `times`, `probability`, `at`) to every login
        and grant of this workspace at `portal` (a slug such as `summit-epic`)."""
        return self.call("POST", f"/_sim/portals/{portal}/faults", {"fault": fault, **options})

    def api_fault(self, status: int, times: int = 1, **options: Any) -> dict[str, Any]:
        """The next `times` Connect API calls answer `status` (`retry_after`, `method`,
        `path_prefix`)."""
        return self.call("POST", "/_sim/api-faults", {"status": status, "times": times, **options})

    def reset(self) -> dict[str, Any]:
        """Empty the workspace (objects, jobs, id sequence); the key stays."""
        self._sources = None
        return self.call("POST", "/_sim/reset")

    def mount_app(self, wsgi_app: Any, name: str = "app") -> str:
        """Make `wsgi_app` reachable by the simulator; answers the app's base URL."""
        raise NotImplementedError

    def close(self) -> None:
        self.http.close()


class Patient:
    """The headless patient: drives the hosted pages and the portal over HTTP."""

    def __init__(self, sim: ConnectSim) -> None:
        self._sim = sim

    def _session_id(self, session: str | dict[str, Any]) -> str:
        return session["id"] if isinstance(session, dict) else session

    def connect(
        self,
        session: str | dict[str, Any],
        username: str = "alice",
        source: str | None = None,
        consent: str = "approve",
        password: str = "password",
    ) -> dict[str, Any]:
        """Open the link, pick `source` (Picker mode: an id, slug or name), sign in, consent.

        Answers `connection` (the attempt), `location`, `stopped_at` (`completion` in
        Picker mode, `return_url` in Direct mode) and `session`.
        """
        body: dict[str, Any] = {"username": username, "password": password, "consent": consent}
        if source is not None:
            body["source"] = self._sim.source(source)
        sid = self._session_id(session)
        return self._sim.call("POST", f"/_sim/patient-sessions/{sid}/connect", body)

    def deny(
        self, session: str | dict[str, Any], username: str = "alice", source: str | None = None
    ) -> dict[str, Any]:
        """Sign in and deny consent."""
        return self.connect(session, username, source, consent="deny")

    def done(self, session: str | dict[str, Any]) -> str:
        """Press Done on the completion screen; answers the return URL the browser reaches."""
        sid = self._session_id(session)
        answer = self._sim.call("POST", f"/_sim/patient-sessions/{sid}/done")
        if answer.get("return_url") is None:
            raise AssertionError(f"Done did not reach the return URL: {answer}")
        return answer["return_url"]

    def complete(
        self,
        session: str | dict[str, Any],
        username: str = "alice",
        source: str | None = None,
        consent: str = "approve",
    ) -> str:
        """The whole flow in either mode; answers the return URL the browser lands on."""
        result = self.connect(session, username, source, consent)
        if result["stopped_at"] == "return_url":  # Direct mode comes straight back
            return result["location"]
        if result["stopped_at"] != "completion":
            raise AssertionError(f"the patient stopped at {result['stopped_at']}: {result}")
        return self.done(session)

    def abandon(self, session: str | dict[str, Any], source: str | None = None) -> dict[str, Any]:
        """Open the link (and the portal's login page for `source`), then walk away."""
        body = {} if source is None else {"source": self._sim.source(source)}
        sid = self._session_id(session)
        return self._sim.call("POST", f"/_sim/patient-sessions/{sid}/abandon", body)


class Clock:
    """The workspace's virtual clock; moving it runs every job that falls due, in order."""

    def __init__(self, sim: ConnectSim) -> None:
        self._sim = sim

    def now(self) -> str:
        return self._sim.call("GET", "/_sim/clock")["now"]

    def advance(self, duration: str | float) -> dict[str, Any]:
        """Move forward by `duration`: seconds, or `90s`, `30m`, `2h`, `30d`, `1d12h`."""
        seconds = parse_duration(duration) / 1000
        return self._sim.call("POST", "/_sim/clock/advance", {"seconds": seconds})

    def set(self, instant: str) -> dict[str, Any]:
        """Move forward to an ISO 8601 instant."""
        return self._sim.call("POST", "/_sim/clock/set", {"now": instant})

    def run_until_idle(self, limit: str | float = "7d") -> dict[str, Any]:
        """Run every pending job, moving the clock at most `limit` forward."""
        seconds = parse_duration(limit) / 1000
        return self._sim.call("POST", "/_sim/clock/run-until-idle", {"max_seconds": seconds})


class Inbox:
    """A webhook receiver inside the simulator; it records what arrives."""

    def __init__(self, sim: ConnectSim, body: dict[str, Any]) -> None:
        self._sim = sim
        self.id: str = body["id"]
        self.url: str = body["url"]
        self.endpoint: dict[str, Any] | None = None

    def received(self) -> list[dict[str, Any]]:
        """The requests it received, oldest first, with their signature verdicts."""
        return self._sim.call("GET", f"/_sim/inboxes/{self.id}")["received"]

    def answer(self, **settings: Any) -> dict[str, Any]:
        """Change how it answers (`status`, `sequence`, `delay_ms`); the sequence restarts."""
        return self._sim.call("PUT", f"/_sim/inboxes/{self.id}", settings)
