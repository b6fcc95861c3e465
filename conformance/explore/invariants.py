"""The invariants checked after every step, each with the expectation that encodes it.

Each check compares what the target answers with what the model predicts; a
mismatch raises `InvariantBroken` carrying the scenario expectation (the
model's value) that the reproducer ends with.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.explore.ids import ID_PATTERNS
from conformance.explore.leaks import find_leak, path_of
from conformance.explore.observe import get_json
from conformance.explore.refs import session_ref
from conformance.explore.reproducer import InvariantBroken, Recorder
from conformance.explore.webhook_checks import WebhookChecks
from conformance.explore.world import ConnectionModel, World
from conformance.http import Client
from conformance.model.cursors import list_page_problems
from conformance.model.lifecycles import ConnectionLifecycle, SessionLifecycle, change_allowed
from conformance.model.timing import iso_ms, parse_ms

_ENTRY_FIELDS = ("status", "connection_id", "failure_code", "failure_at", "created_at")


@dataclass
class Checker(WebhookChecks):
    """Compares the target with the model after every step (`check`)."""

    api: Client
    world: World
    recorder: Recorder
    statuses: dict[str, str] = field(default_factory=dict)  # object id -> last status seen
    kinds: dict[str, str] = field(default_factory=dict)  # object id -> kind, for uniqueness
    scanned: int = 0
    endpoint_status: dict[str, str] = field(default_factory=dict)  # key -> status the log implies

    def broken(self, invariant: str, detail: str, expectation: list[dict[str, Any]]) -> None:
        raise InvariantBroken(invariant, detail, expectation, self.recorder.steps)

    # -- entry -------------------------------------------------------------------------

    def check(self) -> None:
        details = {p: get_json(self.api, f"/patients/{p}") for p in self.world.patients}
        self._lapses(details)
        sessions: dict[str, dict[str, Any]] = {}
        for patient in self.world.patients:
            sessions.update(self._session_list(patient))
        for key, body in sessions.items():
            self._compare_session(key, body)
        self._retrieve_one(sessions)
        for patient, detail in details.items():
            self._compare_patient(patient, detail, sessions)
        self._events()
        self._endpoints()
        self._secrets()

    def _session_list(self, patient: str) -> dict[str, dict[str, Any]]:
        """A patient's sessions as listed (§2.2 page), by key; the list holds exactly the model's."""
        page = get_json(self.api, f"/patients/{patient}/patient-sessions", limit=100)
        problems = list_page_problems(page)
        items = page.get("data") if isinstance(page.get("data"), list) else []
        mine = {s.id: s.key for s in self.world.sessions.values() if s.patient == patient}
        listed = [item.get("id") for item in items]
        if problems or sorted(listed) != sorted(mine):
            lister = {"app": "list_patient_sessions", "with": {"patient_id": patient, "limit": 100}}
            self.broken(
                "list and retrieve agree",
                f"patient {patient}'s session list: {problems or listed}, the model {sorted(mine)}",
                [
                    {
                        "expect": {
                            **lister,
                            "json": {"data": {"length": len(mine)}, "has_more": False},
                        }
                    }
                ],
            )
        return {mine[item["id"]]: item for item in items}

    def _retrieve_one(self, listed: dict[str, dict[str, Any]]) -> None:
        """Each step retrieves one session in turn: it must equal its list item (§2.1)."""
        if not listed:
            return
        keys = sorted(listed, key=lambda k: self.world.sessions[k].created_ms)
        key = keys[self.world.tick % len(keys)]
        model = self.world.sessions[key]
        body = get_json(self.api, f"/patient-sessions/{model.id}")
        if body != listed[key]:
            self.broken(
                "list and retrieve agree",
                f"{model.id} retrieved as {body.get('status')} with"
                f" {len(body.get('connections') or [])} connection(s), listed as"
                f" {listed[key].get('status')} with {len(listed[key].get('connections') or [])}",
                [
                    {
                        "expect": {
                            "app": "get_session",
                            "with": {"session_id": session_ref(key)},
                            "json": {"status": model.status},
                        }
                    }
                ],
            )

    # -- ids and transitions -----------------------------------------------------------

    def _id(self, kind: str, value: Any, expectation: list[dict[str, Any]]) -> None:
        if not isinstance(value, str) or not ID_PATTERNS[kind].match(value):
            self.broken(
                "ids are well-formed", f"{kind} id {value!r} is not well-formed", expectation
            )
        seen = self.kinds.setdefault(value, kind)
        if seen != kind:
            self.broken("ids are unique", f"id {value} names a {seen} and a {kind}", expectation)

    def _transition(
        self, machine: type, object_id: str, status: str, expectation: list[dict[str, Any]]
    ) -> None:
        before = self.statuses.get(object_id)
        if before is not None and not change_allowed(machine, before, status):
            self.broken(
                "transitions only along allowed edges",
                f"{object_id} went from {before} to {status}",
                expectation,
            )
        self.statuses[object_id] = status

    # -- sessions ----------------------------------------------------------------------

    def _compare_session(self, key: str, body: dict[str, Any]) -> None:
        model = self.world.sessions[key]
        get = {"app": "get_session", "with": {"session_id": session_ref(key)}}

        def expect(json_: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"expect": {**get, "json": json_}}]

        self._id(
            "session", body.get("id"), expect({"id": {"regex": ID_PATTERNS["session"].pattern}})
        )
        self._transition(
            SessionLifecycle, model.id, body.get("status"), expect({"status": model.status})
        )
        if body.get("expires_at") != iso_ms(model.expires_ms):
            self.broken(
                "expires_at honoured to the millisecond",
                f"{model.id} expires_at {body.get('expires_at')}, expected {iso_ms(model.expires_ms)}",
                expect({"expires_at": iso_ms(model.expires_ms)}),
            )
        if body.get("status") != model.status:
            self.broken(
                "session status equals the model's",
                f"{model.id} is {body.get('status')} at {iso_ms(self.world.now_ms)}, the model"
                f" says {model.status} (expires_at {iso_ms(model.expires_ms)})",
                expect({"status": model.status}),
            )
        listed = body.get("connections") or []
        if len(listed) != len(model.attempts):
            self.broken(
                "session connections equal the model's",
                f"{model.id} lists {len(listed)} connection(s), the model {len(model.attempts)}",
                expect({"connections": {"length": len(model.attempts)}}),
            )
        for index, (seen, attempt) in enumerate(zip(listed, model.attempts, strict=True)):
            self._compare_entry(seen, attempt, f"connections[{index}]", expect)

    def _compare_entry(
        self, seen: dict[str, Any], attempt: ConnectionModel, at: str, expect: Any
    ) -> None:
        status = seen.get("status")
        if seen.get("id"):
            self._id(
                "connection",
                seen["id"],
                expect({f"{at}.id": {"regex": ID_PATTERNS["connection"].pattern}}),
            )
            self._transition(
                ConnectionLifecycle, seen["id"], status, expect({f"{at}.status": attempt.status})
            )
        if status != attempt.status:
            self.broken(
                "connection status equals the model's",
                f"{at} of session {attempt.session} ({seen.get('id')}) is {status},"
                f" the model says {attempt.status}",
                expect({f"{at}.status": attempt.status}),
            )
        if seen.get("connection_id") != attempt.source_id:
            self.broken(
                "connection source equals the model's",
                f"{at} names source {seen.get('connection_id')}, expected {attempt.source_id}",
                expect({f"{at}.connection_id": attempt.source_id}),
            )
        has_id = attempt.status not in ("failed", "expired") or attempt.id is not None
        if has_id != bool(seen.get("id")):
            want = {"exists": True} if has_id else None
            self.broken(
                "only authorized links carry a conn_ id",
                f"{at} has id {seen.get('id')!r} while {attempt.status} (§1.3)",
                expect({f"{at}.id": want}),
            )
        code = seen.get("failure_code")
        if attempt.status == "failed":
            if attempt.failure_code not in (None, "?") and code != attempt.failure_code:
                self.broken(
                    "failure codes follow the decisions",
                    f"{at} failure_code {code!r}, expected {attempt.failure_code!r}",
                    expect({f"{at}.failure_code": attempt.failure_code}),
                )
            if not code or not seen.get("failure_at"):
                self.broken(
                    "a failed attempt names its failure",
                    f"{at} is failed with failure_code {code!r}, failure_at {seen.get('failure_at')!r}",
                    expect({f"{at}.failure_code": {"exists": True}}),
                )

    # -- connections and their lapses --------------------------------------------------

    def _lapses(self, details: dict[str, dict[str, Any]]) -> None:
        """A connection the model lets lapse (a refresh fault) may have lapsed: take it."""
        seen = {c.get("id"): c for d in details.values() for c in d.get("connections") or []}
        for conn in self.world.connections.values():
            entry = seen.get(conn.id) if conn.id else None
            if entry is None or conn.status != "active" or entry.get("status") not in conn.lapse:
                continue
            at = parse_ms(entry["failure_at"]) if entry.get("failure_at") else self.world.now_ms
            if entry["status"] == "refresh_failed":
                self.world.refresh_rejected(conn, at)
            else:
                self.world.access_lapsed(conn, at)

    def _compare_patient(
        self, patient: str, detail: dict[str, Any], sessions: dict[str, dict[str, Any]]
    ) -> None:
        """§1.2: the patient lists every settled attempt, most recent first, each as its
        session lists it."""
        get = {"app": "get_patient", "with": {"patient_id": patient}}

        def expect(json_: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"expect": {**get, "json": json_}}]

        listed = detail.get("connections") or []
        model = self.world.patient_connections(patient)
        if len(listed) != len(model):
            self.broken(
                "patient connections equal the model's",
                f"patient {patient} lists {len(listed)} connection(s), the model {len(model)}",
                expect({"connections": {"length": len(model)}}),
            )
        stamps = [parse_ms(c["created_at"]) for c in listed]
        if stamps != sorted(stamps, reverse=True):
            self.broken(
                "a patient's connections are most recent first",
                f"patient {patient} lists created_at {[c['created_at'] for c in listed]}",
                expect({"connections": {"length": len(model)}}),
            )
        keys = {s.id: s.key for s in self.world.sessions.values()}
        in_sessions = {
            entry["id"]: (key, entry)
            for key, body in sessions.items()
            for entry in body.get("connections") or []
            if entry.get("id")
        }
        for at, entry in enumerate(listed):
            if not entry.get("id"):
                continue
            key, twin = in_sessions.get(entry["id"], (None, None))
            same = twin is not None and key == keys.get(entry.get("patient_session_id"))
            if not same or any(twin.get(f) != entry.get(f) for f in _ENTRY_FIELDS):
                self.broken(
                    "list and retrieve agree",
                    f"patient {patient}'s connection {entry['id']} is {entry} but its session"
                    f" lists {twin}",
                    expect({f"connections[{at}].status": twin.get("status") if twin else None}),
                )

        def signature(session_id: Any, status: Any, source: Any) -> tuple[str, Any, Any]:
            return (keys.get(session_id, "?") if session_id else "?", status, source)

        want = Counter(
            signature(self.world.sessions[a.session].id, a.status, a.source_id) for a in model
        )
        seen = [
            signature(e.get("patient_session_id"), e.get("status"), e.get("connection_id"))
            for e in listed
        ]
        got = Counter(seen)
        if got != want:
            at = next((i for i, sig in enumerate(seen) if got[sig] > want[sig]), 0)
            entry = listed[at] if listed else {}
            conn = next((c for c in model if c.id and c.id == entry.get("id")), None)
            status = conn.status if conn is not None else {"not": entry.get("status")}
            self.broken(
                "connection status equals the model's",
                f"patient {patient} has connections {sorted(got.items())}, the model"
                f" {sorted(want.items())}",
                expect({f"connections[{at}].status": status}),
            )

    # -- secrets -----------------------------------------------------------------------

    def _secrets(self) -> None:
        for exchange in self.api.exchanges[self.scanned :]:
            leak = find_leak(exchange)
            if leak is not None:
                request = {"method": exchange.method, "path": path_of(exchange)}
                where = leak.path or "the body"
                self.broken(
                    "no token, code or secret in any response",
                    f"{exchange.method} {request['path']} answered {leak.what} at {where}",
                    [{"expect": {"request": request, "json": {leak.path: leak.matcher}}}]
                    if leak.path
                    else [],
                )
        self.scanned = len(self.api.exchanges)
