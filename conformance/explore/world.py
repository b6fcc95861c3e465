"""What the model expects of one workspace: sessions, connections, endpoints, events.

The world is advanced by the same actions the exploration sends to the
target, using only the reference model (`conformance.model`). Names like `s1`
or `c2` are the keys the reproducer saves responses under.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.explore.faults import Fault, Outcome
from conformance.model.lifecycles import ConnectionLifecycle, SessionLifecycle
from conformance.model.timing import session_expires_at, session_has_expired

COMPLETED = "patient_session.completed"
REFRESH_FAILED = "connection.token_refresh_failed"
SUBSCRIBED = (COMPLETED, REFRESH_FAILED)


@dataclass
class ConnectionModel:
    """One attempt: listed in its session (and the patient's list) once settled."""

    key: str
    session: str
    patient: str
    slug: str
    source_id: str
    created_ms: int
    made: int  # the order attempts were made in (a session lists them so, §1.3)
    lifecycle: ConnectionLifecycle = field(default_factory=ConnectionLifecycle)
    id: str | None = None
    failure_code: str | None = None
    lapse: set[str] = field(default_factory=set)  # statuses it may lapse to while active
    changed_ms: int | None = None  # when it left `active` (failure_at)
    changed_tick: int = -1  # the step in which it did

    @property
    def status(self) -> str:
        return self.lifecycle.current_state_value


@dataclass
class SessionModel:
    key: str
    patient: str
    direct: bool
    slug: str | None
    expires_in: int | None
    created_ms: int
    expires_ms: int
    id: str = ""
    lifecycle: SessionLifecycle = field(default_factory=SessionLifecycle)
    attempts: list[ConnectionModel] = field(default_factory=list)  # settled
    in_flight: list[ConnectionModel] = field(default_factory=list)
    completed_ms: int | None = None
    completed_tick: int = -1

    @property
    def status(self) -> str:
        return self.lifecycle.current_state_value


@dataclass
class EndpointModel:
    key: str
    id: str
    inbox_id: str
    sequence: list[int]
    created_ms: int
    created_tick: int
    redelivered: dict[str, int] = field(default_factory=dict)  # evt id -> last redelivery


@dataclass
class World:
    now_ms: int
    sources: dict[str, str]  # portal slug -> fhirsrc id
    patients: list[str] = field(default_factory=list)
    sessions: dict[str, SessionModel] = field(default_factory=dict)
    connections: dict[str, ConnectionModel] = field(default_factory=dict)
    endpoints: dict[str, EndpointModel] = field(default_factory=dict)
    pending_fault: dict[str, Fault] = field(default_factory=dict)  # slug -> failing fault
    tainted: dict[str, set[str]] = field(default_factory=dict)  # slug -> lapse statuses
    counter: int = 0
    tick: int = 0  # the number of the current step: orders events and registrations

    def next_key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # -- sessions ------------------------------------------------------------------------

    def open_sessions(self) -> list[SessionModel]:
        return [s for s in self.sessions.values() if s.status == "open"]

    def create_session(
        self, key: str, patient: str, slug: str | None, expires_in: int | None
    ) -> SessionModel:
        if patient not in self.patients:
            self.patients.append(patient)  # §3.1: upserted at session creation
        session = SessionModel(
            key=key,
            patient=patient,
            direct=slug is not None,
            slug=slug,
            expires_in=expires_in,
            created_ms=self.now_ms,
            expires_ms=session_expires_at(self.now_ms, expires_in),
        )
        self.sessions[key] = session
        return session

    def finish(self, session: SessionModel) -> None:
        """Done (Picker) or the return from the portal (Direct): §3.1 `open → complete`.

        Attempts still at the portal are never listed: they can no longer settle
        (docs/decisions.md "Patient flow", Attempts and "Links after the end").
        """
        session.lifecycle.send("finish")
        session.completed_ms = self.now_ms
        session.completed_tick = self.tick
        session.in_flight.clear()

    def advance(self, ms: int) -> None:
        """Move the clock; sessions whose `expires_at` is reached expire (§3.1), and
        their attempts still at the portal become `expired` (decisions, "In flight")."""
        self.now_ms += ms
        for session in self.open_sessions():
            if session_has_expired(session.expires_ms, self.now_ms):
                session.lifecycle.send("expire")
                for attempt in session.in_flight:
                    attempt.lifecycle.send("session_expires")
                    session.attempts.append(attempt)
                session.attempts.sort(key=lambda a: a.made)
                session.in_flight.clear()

    # -- connections ---------------------------------------------------------------------

    def start_attempt(self, key: str, session: SessionModel, slug: str) -> ConnectionModel:
        attempt = ConnectionModel(
            key=key,
            session=session.key,
            patient=session.patient,
            slug=slug,
            source_id=self.sources[slug],
            created_ms=self.now_ms,
            made=len(self.connections),
        )
        self.connections[key] = attempt
        return attempt

    def settle(self, attempt: ConnectionModel, outcome: Outcome) -> None:
        session = self.sessions[attempt.session]
        session.attempts.append(attempt)
        session.attempts.sort(key=lambda a: a.made)
        if outcome.status == "failed":
            event = {"access_denied": "deny", "token_exchange_failed": "exchange_fails"}
            attempt.lifecycle.send(event.get(outcome.failure_code or "", "portal_error"))
            attempt.failure_code = outcome.failure_code
            self._changed(attempt, self.now_ms)
            return
        # docs/decisions.md "Same source again": one active link per patient and source
        for other in self.connections.values():
            same = other.patient == attempt.patient and other.slug == attempt.slug
            if other is not attempt and same and other.status == "active":
                other.lifecycle.send("replaced")
                self._changed(other, self.now_ms)
        attempt.lifecycle.send("exchange_succeeds")
        if outcome.lapse:
            attempt.lapse.add(outcome.lapse)
        attempt.lapse |= self.tainted.get(attempt.slug, set())

    def abandon(self, attempt: ConnectionModel) -> None:
        self.sessions[attempt.session].in_flight.append(attempt)

    def taint(self, slug: str, lapse: str) -> None:
        """A portal-level refresh fault: any connection there may lapse from now on."""
        self.tainted.setdefault(slug, set()).add(lapse)
        for conn in self.connections.values():
            if conn.slug == slug and conn.status == "active":
                conn.lapse.add(lapse)

    def refresh_rejected(self, conn: ConnectionModel, at_ms: int) -> None:
        conn.lifecycle.send("refresh_rejected")
        self._changed(conn, at_ms)

    def access_lapsed(self, conn: ConnectionModel, at_ms: int) -> None:
        conn.lifecycle.send("access_lapses")
        self._changed(conn, at_ms)

    def disconnect(self, conn: ConnectionModel) -> None:
        conn.lifecycle.send("disconnect")
        self._changed(conn, self.now_ms)

    def _changed(self, conn: ConnectionModel, at_ms: int) -> None:
        conn.changed_ms, conn.changed_tick = at_ms, self.tick

    def with_id(self) -> list[ConnectionModel]:
        return [c for c in self.connections.values() if c.id is not None]

    def patient_connections(self, patient: str) -> list[ConnectionModel]:
        """§1.2: every settled attempt of the patient (failed ones too)."""
        listed = [a for s in self.sessions.values() if s.patient == patient for a in s.attempts]
        return listed

    # -- events --------------------------------------------------------------------------

    def expected_events(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(type, object id) -> (instant, step) the event fires in, for every event the model
        expects: one completion per completed session (§3.1), one refresh failure per
        connection that entered `refresh_failed` (§3.2, §4.1)."""
        events: dict[tuple[str, str], tuple[int, int]] = {}
        for session in self.sessions.values():
            if session.completed_ms is not None:
                events[(COMPLETED, session.id)] = (session.completed_ms, session.completed_tick)
        for conn in self.connections.values():
            if conn.status == "refresh_failed" and conn.id and conn.changed_ms is not None:
                events[(REFRESH_FAILED, conn.id)] = (conn.changed_ms, conn.changed_tick)
        return events
