"""The Hypothesis rule-based state machine that drives a target over HTTP only.

`build_machine` answers a `RuleBasedStateMachine` class bound to one target
and one catalog: every example gets a fresh workspace (`Target.workspace`),
its clock set to where scenarios start, an empty `World` (the model) and a
`Recorder` (the reproducer). Each rule sends one action, records it as a
scenario step and advances the model; the single invariant compares the whole
observable state with the model after every step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from conformance.control import Control
from conformance.explore.faults import Fault, portal_faults, predict
from conformance.explore.invariants import Checker
from conformance.explore.refs import connection_ref, endpoint_ref, session_ref
from conformance.explore.reproducer import SCENARIO_START, InvariantBroken, Recorder, duration
from conformance.explore.world import (
    SUBSCRIBED,
    ConnectionModel,
    EndpointModel,
    SessionModel,
    World,
)
from conformance.http import Reply
from conformance.model import delivery, modes
from conformance.model.timing import iso_ms, parse_ms
from conformance.target import Target

RETURN_URL = "https://app.example/done"
MAX_PATIENTS = 3
MAX_ENDPOINTS = 2
MAX_PORTAL_FAULTS = 3
STATUSES = (200, 204, 400, 404, 410, 500, 503)
SHORT_MS = st.integers(1, 180_000)
LONG_MS = st.sampled_from(
    [59_000, 60_000, 300_000, 1_800_000, 7_200_000, 43_200_000, 86_400_000, 3 * 86_400_000]
)
EXPIRES_IN = st.one_of(
    st.none(), st.sampled_from([60, 61, 600, 1800, 86400]), st.integers(60, 86400)
)


@dataclass(frozen=True)
class Catalog:
    """What the target's control plane documents: portals, personas, faults."""

    sources: dict[str, str]  # portal slug -> fhirsrc id
    slugs: tuple[str, ...]  # the portals explored
    personas: tuple[str, ...]
    faults: tuple[Fault, ...]


def build_machine(target: Target, catalog: Catalog, seed: int) -> type[RuleBasedStateMachine]:
    """The exploration's state machine class for `target` (a fresh workspace per example)."""
    slugs = st.sampled_from(catalog.slugs)
    personas = st.sampled_from(catalog.personas)
    login_faults = st.one_of(st.none(), st.sampled_from(catalog.faults))
    injectable = portal_faults(list(catalog.faults))

    class Exploration(RuleBasedStateMachine):
        patients = Bundle("patients")
        sessions = Bundle("sessions")
        connections = Bundle("connections")
        endpoints = Bundle("endpoints")

        def __init__(self) -> None:
            super().__init__()
            self.api = target.workspace(seed)
            Control(self.api).set(SCENARIO_START)
            self.world = World(now_ms=parse_ms(SCENARIO_START), sources=dict(catalog.sources))
            self.recorder = Recorder()
            self.checker = Checker(self.api, self.world, self.recorder)
            self.faults_injected = 0

        # -- helpers ---------------------------------------------------------------------

        def fail(self, invariant_: str, detail: str, expectation: list[dict[str, Any]]) -> None:
            raise InvariantBroken(invariant_, detail, expectation, self.recorder.steps)

        def answered(
            self,
            reply: Reply,
            what: str,
            status: int = 200,
            as_request: dict[str, Any] | None = None,
        ) -> Any:
            """The reply's JSON; a reply of another status fails, its step expecting `status`."""
            if reply.status != status:
                step = self.recorder.steps[-1]
                if "app" in step or "patient" in step:
                    step["expect"] = {**step.get("expect", {}), "status": status}
                elif as_request is not None:  # a fault or clock step has no `expect`
                    self.recorder.steps[-1] = {"request": as_request, "expect": {"status": status}}
                self.fail(
                    "actions answer as the contract says",
                    f"{what} answered {reply.status}, expected {status}: {reply.text[:200]}",
                    [],
                )
            return reply.json

        def open_session(self, key: str, *, picker_only: bool = False) -> SessionModel | None:
            choices = [s for s in self.world.open_sessions() if not (picker_only and s.direct)]
            if not choices:
                return None
            chosen = self.world.sessions.get(key)
            return chosen if chosen in choices else choices[-1]

        def has_open(self) -> bool:
            return bool(self.world.open_sessions())

        def has_open_picker(self) -> bool:
            return any(not s.direct for s in self.world.open_sessions())

        def linked(self, statuses: tuple[str, ...]) -> list[ConnectionModel]:
            return [c for c in self.world.with_id() if c.status in statuses]

        # -- patients and sessions -------------------------------------------------------

        @initialize(target=patients)
        def first_patient(self) -> str:
            return "p1"  # created by its first session (§3.1: upserted at session creation)

        @precondition(lambda self: len(self.world.patients) < MAX_PATIENTS)
        @rule(target=patients)
        def create_patient(self) -> str:
            patient = f"p{len(self.world.patients) + 2}"
            while patient in self.world.patients:
                patient = f"p{int(patient[1:]) + 1}"
            self.recorder.add({"app": "create_patient", "with": {"patient_id": patient}})
            reply = self.api.post("/patients", {"patient_id": patient})
            self.answered(reply, f"POST /patients {patient}")
            self.world.patients.append(patient)
            return patient

        @rule(
            target=sessions,
            patient=patients,
            direct=st.booleans(),
            slug=slugs,
            expires_in=EXPIRES_IN,
        )
        def create_session(
            self, patient: str, direct: bool, slug: str, expires_in: int | None
        ) -> str:
            key = self.world.next_key("s")
            body: dict[str, Any] = {"patient_id": patient, "return_url": RETURN_URL}
            step_with = dict(body)
            if expires_in is not None:
                body["expires_in"] = step_with["expires_in"] = expires_in
            if direct:
                body["connection_id"] = self.world.sources[slug]
                step_with["connection_id"] = "${sources." + slug + "}"
            self.recorder.add({"app": "create_session", "with": step_with, "save": key})
            created = self.answered(
                self.api.post("/patient-sessions", body), "POST /patient-sessions"
            )
            model = self.world.create_session(key, patient, slug if direct else None, expires_in)
            model.id = created.get("id", "")
            for name, want in (("created_at", model.created_ms), ("expires_at", model.expires_ms)):
                if created.get(name) != iso_ms(want):
                    self.fail(
                        "expires_at honoured to the millisecond",
                        f"a session created at {iso_ms(self.world.now_ms)} with expires_in"
                        f" {expires_in} has {name} {created.get(name)}, expected {iso_ms(want)}",
                        [{"expect": {"response": key, "json": {name: iso_ms(want)}}}],
                    )
            return key

        # -- the patient -----------------------------------------------------------------

        def attempt(
            self, session_key: str, slug: str, persona: str, fault: Fault | None, consent: str
        ) -> ConnectionModel | None:
            session = self.open_session(session_key)
            if session is None:
                return None
            slug = session.slug or slug
            if fault is not None and (
                not fault.applies_at(slug) or slug in self.world.pending_fault
            ):
                fault = None  # a pending portal fault decides this attempt alone
            username = persona + (f"+{fault.name}" if fault else "")
            key = self.world.next_key("c")
            step: dict[str, Any] = {
                "patient": "connect" if consent == "approve" else "deny",
                "session": session_ref(session.key),
            }
            body: dict[str, Any] = {"username": username, "consent": consent}
            if not session.direct:
                step["source"] = slug
                body["source"] = self.world.sources[slug]
            step.update({"username": username, "save": key})
            self.recorder.add(step)
            reply = self.api.post(f"/_sim/patient-sessions/{session.id}/connect", body)
            got = self.answered(reply, f"the patient connecting {slug} as {username}")
            outcome = predict(consent, fault, self.world.pending_fault.get(slug))
            if outcome.consumed:
                self.world.pending_fault.pop(slug)
            conn = self.world.start_attempt(key, session, slug)
            self.world.settle(conn, outcome)
            seen = (got or {}).get("connection") or {}
            conn.id = seen.get("id") if outcome.status == "active" else None
            if modes.completes_on_return("direct" if session.direct else "picker"):
                self.world.finish(session)
                self.direct_return(session, conn, str((got or {}).get("location") or ""))
            return conn

        def direct_return(
            self, session: SessionModel, conn: ConnectionModel, location: str
        ) -> None:
            """§7: the patient lands on `return_url` with the Direct result in the query."""
            error = None
            if conn.status == "failed":
                error = modes.direct_return_error(conn.failure_code or "")
            wanted = modes.return_params(
                "direct", session.patient, session.id, source_id=conn.source_id, error=error
            )
            seen = dict(parse_qsl(urlsplit(location).query))
            for name, value in wanted.items():
                if seen.get(name) != value:
                    step = self.recorder.steps[-1]
                    step["expect"] = {"json": {"location": {"contains": f"{name}={value}"}}}
                    self.fail(
                        "a Direct session returns its result",
                        f"the patient returned to {location!r}, expected {name}={value} (§7)",
                        [],
                    )

        @precondition(lambda self: self.has_open())
        @rule(
            target=connections, session=sessions, slug=slugs, persona=personas, fault=login_faults
        )
        def connect(self, session: str, slug: str, persona: str, fault: Fault | None) -> Any:
            conn = self.attempt(session, slug, persona, fault, "approve")
            return conn.key if conn is not None and conn.status == "active" else multiple()

        @rule(
            target=connections,
            patient=patients,
            direct=st.booleans(),
            slug=slugs,
            persona=personas,
            fault=login_faults,
        )
        def quick_connect(
            self, patient: str, direct: bool, slug: str, persona: str, fault: Fault | None
        ) -> Any:
            """A new session (default expiry) and at once a connect in it."""
            session = self.create_session(patient, direct, slug, None)
            conn = self.attempt(session, slug, persona, fault, "approve")
            return conn.key if conn is not None and conn.status == "active" else multiple()

        @precondition(lambda self: self.has_open())
        @rule(session=sessions, slug=slugs, persona=personas)
        def deny(self, session: str, slug: str, persona: str) -> None:
            self.attempt(session, slug, persona, None, "deny")

        @precondition(lambda self: self.has_open_picker())
        @rule(session=sessions)
        def finish(self, session: str) -> None:
            model = self.open_session(session, picker_only=True)
            assert model is not None
            self.recorder.add({"patient": "done", "session": session_ref(model.key)})
            self.answered(self.api.post(f"/_sim/patient-sessions/{model.id}/done", {}), "Done")
            self.world.finish(model)

        @precondition(lambda self: self.has_open())
        @rule(session=sessions, slug=slugs, at_portal=st.booleans())
        def abandon(self, session: str, slug: str, at_portal: bool) -> None:
            model = self.open_session(session)
            assert model is not None
            slug = model.slug or slug
            pending = self.world.pending_fault.get(slug)
            if pending is not None and pending.site == "authorize":
                if model.direct:
                    return  # opening a Direct link goes to the portal, whose fault ends it at once
                at_portal = False
            at_portal = at_portal or model.direct  # §7: a Direct link forwards to the portal
            step: dict[str, Any] = {"patient": "abandon", "session": session_ref(model.key)}
            body: dict[str, Any] = {}
            if at_portal and not model.direct:
                step["source"] = slug
                body["source"] = self.world.sources[slug]
            self.recorder.add(step)
            path = f"/_sim/patient-sessions/{model.id}/abandon"
            self.answered(self.api.post(path, body), "abandoning")
            if at_portal:
                self.world.abandon(self.world.start_attempt(self.world.next_key("a"), model, slug))

        # -- time ------------------------------------------------------------------------

        def advance_ms(self, ms: int) -> None:
            self.recorder.add({"clock": {"advance": duration(ms)}})
            request = {
                "method": "POST",
                "path": "/_sim/clock/advance",
                "json": {"seconds": ms / 1000},
            }
            reply = self.api.post(request["path"], request["json"])
            body = self.answered(reply, "advancing the clock", as_request=request)
            self.world.advance(ms)
            if body.get("now") != iso_ms(self.world.now_ms):
                self.fail(
                    "the clock moves exactly as told",
                    f"advanced by {ms} ms to {body.get('now')}, expected {iso_ms(self.world.now_ms)}",
                    [
                        {
                            "expect": {
                                "app": "sim_get_clock",
                                "json": {"now": iso_ms(self.world.now_ms)},
                            }
                        }
                    ],
                )

        @rule(ms=st.one_of(SHORT_MS, SHORT_MS, LONG_MS))
        def advance(self, ms: int) -> None:
            self.advance_ms(ms)

        @precondition(lambda self: self.has_open())
        @rule(session=sessions, early=st.booleans())
        def advance_to_expiry(self, session: str, early: bool) -> None:
            """Just before (1 ms) or exactly at an open session's `expires_at`."""
            model = self.open_session(session)
            assert model is not None
            ms = model.expires_ms - (1 if early else 0) - self.world.now_ms
            if ms > 0:
                self.advance_ms(ms)

        # -- connections -----------------------------------------------------------------

        def refreshable(self) -> list[ConnectionModel]:
            """Active links with a refresh token: a one-time grant has none (decisions,
            "No refresh token"), so a forced refresh failure does not apply to it."""
            return [c for c in self.linked(("active",)) if "expired" not in c.lapse]

        @precondition(lambda self: bool(self.refreshable()))
        @rule(conn=connections)
        def refresh_failure(self, conn: str) -> None:
            model = self.world.connections[conn]
            if model not in self.refreshable():
                model = self.refreshable()[-1]
            self.recorder.add(
                {"fault": {"inject": "refresh_failure", "connection": connection_ref(model.key)}}
            )
            path = f"/_sim/connections/{model.id}/refresh-failure"
            request = {
                "method": "POST",
                "path": path.replace(model.id or "", connection_ref(model.key)),
                "json": {},
            }
            self.answered(self.api.post(path, {}), "forcing a refresh failure", as_request=request)
            self.world.refresh_rejected(model, self.world.now_ms)

        @precondition(lambda self: bool(self.linked(("active", "disconnected"))))
        @rule(conn=connections)
        def disconnect(self, conn: str) -> None:
            model = self.world.connections[conn]
            if model.status not in ("active", "disconnected"):
                model = self.linked(("active", "disconnected"))[-1]
            status = 200 if model.status == "active" else 409  # §2.4: state violations are 409
            step: dict[str, Any] = {
                "app": "disconnect",
                "with": {"patient_id": model.patient, "connection_id": connection_ref(model.key)},
            }
            if status != 200:
                step["expect"] = {"status": status, "json": {"error.type": "conflict_error"}}
            self.recorder.add(step)
            reply = self.api.call("DELETE", f"/patients/{model.patient}/connections/{model.id}")
            body = self.answered(reply, f"disconnecting a {model.status} connection", status)
            if status == 200:
                tombstone = {"id": model.id, "resource_type": "connection", "disconnected": True}
                if body != tombstone:
                    self.fail("disconnect answers the tombstone", f"got {body}", [])
                self.world.disconnect(model)

        @precondition(lambda self: self.faults_injected < MAX_PORTAL_FAULTS)
        @rule(slug=slugs, fault=st.sampled_from(injectable) if injectable else st.nothing())
        def portal_fault(self, slug: str, fault: Fault) -> None:
            if not fault.applies_at(slug) or (fault.fails and slug in self.world.pending_fault):
                return
            self.faults_injected += 1
            self.recorder.add({"fault": {"inject": fault.name, "portal": slug, "times": 1}})
            request = {
                "method": "POST",
                "path": f"/_sim/portals/{slug}/faults",
                "json": {"fault": fault.name, "times": 1},
            }
            reply = self.api.post(request["path"], request["json"])
            self.answered(reply, f"injecting {fault.name} at {slug}", as_request=request)
            if fault.fails:
                self.world.pending_fault[slug] = fault
            elif fault.lapse:
                self.world.taint(slug, fault.lapse)

        # -- webhooks --------------------------------------------------------------------

        @precondition(lambda self: len(self.world.endpoints) < MAX_ENDPOINTS)
        @rule(
            target=endpoints, sequence=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=4)
        )
        def register_inbox(self, sequence: list[int]) -> str:
            key = self.world.next_key("box")
            self.recorder.add(
                {"inbox": {"name": key, "sequence": sequence, "events": list(SUBSCRIBED)}}
            )
            inbox = self.answered(
                self.api.post("/_sim/inboxes", {"sequence": sequence}), "an inbox"
            )
            hook = self.answered(
                self.api.post("/webhooks", {"url": inbox["url"], "events": list(SUBSCRIBED)}),
                "registering the inbox",
            )
            self.world.endpoints[key] = EndpointModel(
                key,
                hook.get("id", ""),
                inbox.get("id", ""),
                list(sequence),
                self.world.now_ms,
                self.world.tick,
            )
            return key

        @precondition(lambda self: bool(self.world.endpoints))
        @rule(endpoint=endpoints, pick=st.integers(0, 7))
        def redeliver(self, endpoint: str, pick: int) -> None:
            model = self.world.endpoints[endpoint]
            records = self.api.get(f"/webhooks/{model.id}/events", limit=100).json or {}
            data = records.get("data") or []
            if not data:
                return
            index = pick % len(data)
            record = data[index]
            saved = self.world.next_key("events")
            self.recorder.add(
                {
                    "app": "list_webhook_events",
                    "with": {"webhook_id": endpoint_ref(endpoint), "limit": 100},
                    "save": saved,
                }
            )
            now = self.world.now_ms
            last = model.redelivered.get(record["id"])
            if self.checker.endpoint_status.get(endpoint) == "disabled":
                status = 409  # decisions: a disabled endpoint is 409 resource_conflict
            elif not delivery.redeliver_allowed(last, now):
                status = 429  # §2.6
            else:
                status = 200
            expect: dict[str, Any] = {"status": status}
            if status == 429:
                expect["headers"] = {"Retry-After": str(delivery.retry_after_s(last or now, now))}
            if status == 200:
                expect["json"] = {
                    "attempts": record["attempts"] + 1,
                    "last_redelivered_at": iso_ms(now),
                }
            self.recorder.add(
                {
                    "app": "redeliver",
                    "with": {"event_id": "${" + saved + ".data[" + str(index) + "].id}"},
                    "expect": expect,
                }
            )
            reply = self.api.post(f"/events/{record['id']}/redeliver")
            body = self.answered(reply, "redelivering an event", status) or {}
            if status == 429 and reply.header("Retry-After") != expect["headers"]["Retry-After"]:
                self.fail(
                    "redelivery is limited to one per event per 60 s",
                    f"Retry-After {reply.header('Retry-After')}",
                    [],
                )
            if status == 200:
                if body.get("attempts") != record["attempts"] + 1 or body.get(
                    "last_redelivered_at"
                ) != iso_ms(now):
                    self.fail(
                        "a redelivery is one more attempt", f"the record after it: {body}", []
                    )
                model.redelivered[record["id"]] = now

        # -- the invariant ---------------------------------------------------------------

        @invariant()
        def conforms(self) -> None:
            self.checker.check()
            self.world.tick += 1

    return Exploration
