"""The invariants checked after every step, each with the expectation that encodes it.

Each check compares what the target answers with what the model predicts; a
mismatch raises `InvariantBroken` carrying the scenario expectation (the
model's value) that the reproducer ends with.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.explore.observe import all_pages, get_json
from conformance.explore.reproducer import InvariantBroken, Recorder
from conformance.explore.world import COMPLETED, REFRESH_FAILED, ConnectionModel, World
from conformance.http import REDACTED, Client
from conformance.model import delivery
from conformance.model.cursors import list_page_problems
from conformance.model.lifecycles import ConnectionLifecycle, SessionLifecycle, change_allowed
from conformance.model.timing import iso_ms, parse_ms

ULID = "[0-9A-HJKMNP-TV-Z]{26}"  # §1.1: prefix + 26-char ULID-style
ID_PATTERNS = {
    "session": re.compile(f"^ps_{ULID}$"),
    "connection": re.compile(f"^conn_{ULID}$"),
    "endpoint": re.compile(f"^wh_{ULID}$"),
    "event": re.compile(f"^evt_{ULID}$"),
}
_TOKEN_FIELD = re.compile(
    r'"(access_token|refresh_token|id_token|code_verifier|client_secret|secret)"\s*:\s*"'
)
_CODE_PARAM = re.compile(r"[?&]code=[^&\"\s]+")
_SECRET_ALLOWED = re.compile(r"^/webhooks(/[^/]+/rotate-secret)?$")


def session_ref(key: str) -> str:
    return "${" + key + ".id}"


def connection_ref(key: str) -> str:
    return "${" + key + ".connection.id}"


def endpoint_ref(key: str) -> str:
    return "${" + key + ".webhook.id}"


@dataclass
class Checker:
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
        get = {"app": "get_patient", "with": {"patient_id": patient}}
        listed = detail.get("connections") or []
        model = self.world.patient_connections(patient)
        if len(listed) != len(model):
            self.broken(
                "patient connections equal the model's",
                f"patient {patient} lists {len(listed)} connection(s), the model {len(model)}",
                [{"expect": {**get, "json": {"connections": {"length": len(model)}}}}],
            )
        stamps = [parse_ms(c["created_at"]) for c in listed]
        if stamps != sorted(stamps, reverse=True):
            self.broken(
                "a patient's connections are most recent first",
                f"patient {patient} lists created_at {[c['created_at'] for c in listed]}",
                [{"expect": {**get, "json": {"connections": {"length": len(model)}}}}],
            )
        by_session = {
            (key, i): entry
            for key, body in sessions.items()
            for i, entry in enumerate(body.get("connections") or [])
        }
        want = Counter((a.session, a.status, a.source_id) for a in model)
        got = Counter()
        index = {s.id: s.key for s in self.world.sessions.values()}
        for at, entry in enumerate(listed):
            key = index.get(entry.get("patient_session_id"), "?")
            got[(key, entry.get("status"), entry.get("connection_id"))] += 1
            if entry.get("id"):
                twin = next(
                    (
                        e
                        for (k, _), e in by_session.items()
                        if k == key and e.get("id") == entry["id"]
                    ),
                    None,
                )
                fields = ("status", "connection_id", "failure_code", "failure_at", "created_at")
                if twin is None or any(twin.get(f) != entry.get(f) for f in fields):
                    self.broken(
                        "list and retrieve agree",
                        f"patient {patient}'s connection {entry['id']} differs from its session's"
                        f" entry: {entry} vs {twin}",
                        [
                            {
                                "expect": {
                                    **get,
                                    "json": {
                                        f"connections[{at}].status": twin.get("status")
                                        if twin
                                        else None
                                    },
                                }
                            }
                        ],
                    )
        if got != want:
            wrong = next(
                (
                    i
                    for i, e in enumerate(listed)
                    if got[
                        (
                            index.get(e.get("patient_session_id"), "?"),
                            e.get("status"),
                            e.get("connection_id"),
                        )
                    ]
                    > want[
                        (
                            index.get(e.get("patient_session_id"), "?"),
                            e.get("status"),
                            e.get("connection_id"),
                        )
                    ]
                ),
                0,
            )
            entry = listed[wrong] if listed else {}
            conn = next((c for c in model if c.id and c.id == entry.get("id")), None)
            expected = conn.status if conn is not None else {"not": entry.get("status")}
            self.broken(
                "connection status equals the model's",
                f"patient {patient} has connections {sorted(got.items())}, the model"
                f" {sorted(want.items())}",
                [{"expect": {**get, "json": {f"connections[{wrong}].status": expected}}}],
            )

    # -- events ------------------------------------------------------------------------

    def _events(self) -> None:
        expected = self.world.expected_events()
        for kind in (COMPLETED, REFRESH_FAILED):
            found = all_pages(self.api, "/_sim/events", type=kind)
            counts = Counter((found_obj(e) or {}).get("id") for e in found)
            wanted = {oid: at for (t, oid), (at, _) in expected.items() if t == kind}
            lister = {"app": "sim_list_events", "with": {"type": kind, "limit": 100}}
            expect = [{"expect": {**lister, "json": {"data": {"length": len(wanted)}}}}]
            what = (
                "one patient_session.completed per completed session"
                if kind == COMPLETED
                else "connection.token_refresh_failed exactly when a connection enters refresh_failed"
            )
            for oid in wanted:
                if counts.get(oid, 0) != 1:
                    self.broken(
                        what, f"{counts.get(oid, 0)} {kind} event(s) for {oid}, expected 1", expect
                    )
            extra = [oid for oid in counts if oid not in wanted]
            if extra:
                self.broken(
                    what, f"{kind} fired for {extra}, which the model did not expect", expect
                )
            for event in found:
                obj = found_obj(event) or {}
                at = wanted[obj.get("id")]
                if event.get("created_at") != iso_ms(at):
                    self.broken(
                        what,
                        f"{kind} for {obj.get('id')} fired at {event.get('created_at')}, expected {iso_ms(at)}",
                        [
                            {
                                "expect": {
                                    **lister,
                                    "json": {
                                        "data": {"length": len(wanted)},
                                        "data[0].created_at": iso_ms(max(wanted.values())),
                                    },
                                }
                            }
                        ],
                    )
                want_status = "complete" if kind == COMPLETED else "refresh_failed"
                if obj.get("status") != want_status:
                    self.broken(
                        what,
                        f"{kind} payload has status {obj.get('status')}",
                        [
                            {
                                "expect": {
                                    **lister,
                                    "json": {"data[0].data.object.status": want_status},
                                }
                            }
                        ],
                    )

    # -- webhook endpoints ---------------------------------------------------------------

    def _endpoints(self) -> None:
        if not self.world.endpoints:
            return
        listed = {w["id"]: w for w in all_pages(self.api, "/webhooks")}
        expected = self.world.expected_events()
        for key, endpoint in self.world.endpoints.items():
            ref = endpoint_ref(key)
            body = get_json(self.api, f"/webhooks/{endpoint.id}")
            self._id("endpoint", body.get("id"), [])
            if listed.get(endpoint.id) != body:
                self.broken(
                    "list and retrieve agree",
                    f"endpoint {endpoint.id} listed as {listed.get(endpoint.id)} but retrieved as {body}",
                    [
                        {
                            "expect": {
                                "app": "get_webhook",
                                "with": {"webhook_id": ref},
                                "json": {"status": body.get("status")},
                            }
                        }
                    ],
                )
            records = all_pages(self.api, f"/webhooks/{endpoint.id}/events")
            mine = {k: at for k, (at, tick) in expected.items() if tick > endpoint.created_tick}
            counts = Counter((r.get("type"), (found_obj(r) or {}).get("id")) for r in records)
            events_expect = [
                {
                    "expect": {
                        "app": "list_webhook_events",
                        "with": {"webhook_id": ref, "limit": 100},
                        "json": {"data": {"length": len(mine)}},
                    }
                }
            ]
            if set(counts) != set(mine) or any(n != 1 for n in counts.values()):
                self.broken(
                    "each event is recorded once per subscribed endpoint",
                    f"endpoint {endpoint.id} holds {dict(counts)}, the model expects {sorted(mine)}",
                    events_expect,
                )
            for record in records:
                self._id("event", record.get("id"), events_expect)
            attempts = all_pages(self.api, f"/_sim/webhooks/{endpoint.id}/attempts")
            status = self._schedule(key, endpoint.sequence, records, attempts)
            if body.get("status") != status:
                self.broken(
                    "an endpoint is disabled exactly when an event's ninth attempt fails",
                    f"endpoint {endpoint.id} is {body.get('status')}, the attempts imply {status}",
                    [
                        {
                            "expect": {
                                "app": "get_webhook",
                                "with": {"webhook_id": ref},
                                "json": {"status": status},
                            }
                        }
                    ],
                )
            self.endpoint_status[key] = status

    def _schedule(
        self,
        key: str,
        sequence: list[int],
        records: list[dict[str, Any]],
        attempts: list[dict[str, Any]],
    ) -> str:
        """Check the attempt log against §4.4 and answer the endpoint status it implies."""
        endpoint = self.world.endpoints[key]
        ref = endpoint_ref(key)
        received = get_json(self.api, f"/_sim/inboxes/{endpoint.inbox_id}").get("received") or []
        for position, arrival in enumerate(received):
            wanted = delivery.answer(sequence, position)
            if arrival.get("response_status") != wanted:
                self.broken(
                    "an inbox answers its sequence in turn",
                    f"arrival {position + 1} at inbox {endpoint.inbox_id} was answered"
                    f" {arrival.get('response_status')}, its sequence says {wanted}",
                    [
                        {
                            "expect": {
                                "app": "sim_get_inbox",
                                "with": {"inbox_id": "${" + key + ".id}"},
                                "json": {f"received[{position}].response_status": wanted},
                            }
                        }
                    ],
                )
        now = self.world.now_ms
        disabled_at: int | None = None
        ordered = sorted(records, key=lambda r: (parse_ms(r["created_at"]), records.index(r) * -1))
        for record in ordered:
            index = records.index(record)
            expectation = EventExpectation(ref, index)
            mine = sorted(
                (a for a in attempts if a.get("event_id") == record.get("id")),
                key=lambda a: a.get("attempt") or 0,
            )
            arrived = [a for a in received if a.get("event_id") == record.get("id")]
            if [a.get("attempt") for a in mine] != list(range(1, len(mine) + 1)):
                self.broken(
                    "webhook attempts exactly on the model's schedule",
                    f"{record['id']} has attempts numbered {[a.get('attempt') for a in mine]}",
                    expectation.of({"data": {"length": len(mine)}}),
                )
            if len(arrived) != len(mine) or record.get("attempts") != len(mine):
                self.broken(
                    "every attempt is one delivery",
                    f"{record['id']} lists {len(mine)} attempt(s), its record says"
                    f" {record.get('attempts')}, the inbox received it {len(arrived)} time(s)",
                    expectation.of({"data": {"length": len(arrived)}}),
                )
            for n, (attempt, arrival) in enumerate(zip(mine, arrived, strict=True)):
                if attempt.get("status_code") != arrival.get("response_status"):
                    self.broken(
                        "an attempt records the receiver's answer",
                        f"attempt {n + 1} of {record['id']} recorded {attempt.get('status_code')},"
                        f" the inbox answered {arrival.get('response_status')}",
                        expectation.of(
                            {f"data[{len(mine) - 1 - n}].status_code": arrival["response_status"]}
                        ),
                    )
            auto = [a for a in mine if a.get("trigger") == "automatic"]
            manual_ok = [
                parse_ms(a["attempted_at"])
                for a in mine
                if a.get("trigger") != "automatic" and a.get("succeeded")
            ]
            created = parse_ms(record["created_at"])
            due = self._expected_auto(created, auto, manual_ok, disabled_at, now)
            detail = None
            for n, (seen, at) in enumerate(zip(auto, due, strict=False), start=1):
                if parse_ms(seen["attempted_at"]) != at:
                    detail = (
                        f"automatic attempt {n} of {record['id']} at {seen.get('attempted_at')},"
                        f" expected {iso_ms(at)}"
                    )
                    break
            if detail is None and len(auto) != len(due):
                detail = (
                    f"{record['id']} had automatic attempts at"
                    f" {[a.get('attempted_at') for a in auto]}, the schedule says"
                    f" {[iso_ms(t) for t in due]} by {iso_ms(now)}"
                )
            if detail is not None:
                total = len(mine) - len(auto) + len(due)
                json_: dict[str, Any] = {"data": {"length": total}}
                last_manual = max(
                    (parse_ms(a["attempted_at"]) for a in mine if a not in auto), default=None
                )
                if due and (last_manual is None or last_manual < due[-1]):
                    json_["data[0].attempted_at"] = iso_ms(due[-1])
                self.broken(
                    "webhook attempts exactly on the model's schedule",
                    detail,
                    expectation.of(json_),
                )
            if len(auto) == delivery.MAX_ATTEMPTS and not auto[-1].get("succeeded"):
                at = parse_ms(auto[-1]["attempted_at"])
                disabled_at = at if disabled_at is None else min(disabled_at, at)
        return "disabled" if disabled_at is not None else "active"

    @staticmethod
    def _expected_auto(
        created: int,
        auto: list[dict[str, Any]],
        manual_ok: list[int],
        disabled_at: int | None,
        now: int,
    ) -> list[int]:
        """The automatic attempts an event should have had by `now` (their instants)."""
        due_times = []
        for n in range(1, delivery.MAX_ATTEMPTS + 1):
            due = delivery.attempt_time_ms(created, n)
            if due > now:
                break
            if disabled_at is not None and due > disabled_at:
                break
            if any(t < due for t in manual_ok) and n > 1:
                break
            due_times.append(due)
            seen = auto[n - 1] if len(auto) >= n else None
            if seen is None or seen.get("succeeded"):
                break
        return due_times

    # -- secrets -----------------------------------------------------------------------

    def _secrets(self) -> None:
        for exchange in self.api.exchanges[self.scanned :]:
            body = exchange.response_body
            if not isinstance(body, str):
                continue
            path = "/" + exchange.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
            create_secret = exchange.method == "POST" and _SECRET_ALLOWED.match(path)
            leak = None
            if REDACTED in body and not create_secret:
                leak = "an API key or webhook secret"
            token = _TOKEN_FIELD.search(body)
            if token and not (create_secret and token.group(1) == "secret"):
                leak = f"a {token.group(1)} value"
            if _CODE_PARAM.search(body):
                leak = "an OAuth code"
            if leak:
                request: dict[str, Any] = {"method": exchange.method, "path": path}
                self.broken(
                    "no token, code or secret in any response",
                    f"{exchange.method} {path} answered {leak}",
                    [{"expect": {"request": request, "json": {"secret": {"absent": True}}}}],
                )
        self.scanned = len(self.api.exchanges)


@dataclass(frozen=True)
class EventExpectation:
    """An expectation on the attempts of one event of an endpoint (listed newest first)."""

    endpoint_ref: str
    index: int  # the event's position in GET /webhooks/{id}/events

    def of(self, json_: dict[str, Any]) -> list[dict[str, Any]]:
        events = {"webhook_id": self.endpoint_ref, "limit": 100}
        event_id = "${final_events.data[" + str(self.index) + "].id}"
        attempts = {"webhook_id": self.endpoint_ref, "event_id": event_id, "limit": 100}
        return [
            {"app": "list_webhook_events", "with": events, "save": "final_events"},
            {"expect": {"app": "sim_list_attempts", "with": attempts, "json": json_}},
        ]


def found_obj(event: dict[str, Any]) -> dict[str, Any] | None:
    data = event.get("data")
    return data.get("object") if isinstance(data, dict) else None


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
