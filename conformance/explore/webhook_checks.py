"""The webhook invariants: one event per transition, one record per endpoint, and every
delivery attempt on the §4.4 schedule (the endpoint disabled after an event's ninth failure).

A mixin of `Checker` (`invariants`): it reads the target's events, endpoints,
attempt logs and inbox arrivals, and judges them with `conformance.model.delivery`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from conformance.explore.ids import ID_PATTERNS
from conformance.explore.observe import all_pages, get_json
from conformance.explore.refs import endpoint_ref, inbox_ref
from conformance.explore.world import COMPLETED, REFRESH_FAILED, World
from conformance.http import Client
from conformance.model import delivery
from conformance.model.timing import iso_ms, parse_ms

Expectation = list[dict[str, Any]]


def found_obj(event: dict[str, Any]) -> dict[str, Any]:
    """`data.object` of an event or event record (empty when absent)."""
    data = event.get("data")
    found = data.get("object") if isinstance(data, dict) else None
    return found if isinstance(found, dict) else {}


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


class WebhookChecks:
    """Events and deliveries (needs `api`, `world`, `broken`, `_id`, `endpoint_status`)."""

    api: Client
    world: World
    endpoint_status: dict[str, str]

    def broken(self, invariant: str, detail: str, expectation: Expectation) -> None:
        raise NotImplementedError

    def _id(self, kind: str, value: Any, expectation: Expectation) -> None:
        raise NotImplementedError

    def _events(self) -> None:
        expected = self.world.expected_events()
        for kind in (COMPLETED, REFRESH_FAILED):
            found = all_pages(self.api, "/_sim/events", type=kind)
            counts = Counter(found_obj(e).get("id") for e in found)
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
                obj = found_obj(event)
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

    def _endpoints(self) -> None:
        if not self.world.endpoints:
            return
        listed = {w["id"]: w for w in all_pages(self.api, "/webhooks")}
        expected = self.world.expected_events()
        for key, endpoint in self.world.endpoints.items():
            ref = endpoint_ref(key)
            body = get_json(self.api, f"/webhooks/{endpoint.id}")
            pattern = ID_PATTERNS["endpoint"].pattern
            get = {"app": "get_webhook", "with": {"webhook_id": ref}}
            self._id(
                "endpoint",
                body.get("id"),
                [{"expect": {**get, "json": {"id": {"regex": pattern}}}}],
            )
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
            counts = Counter((r.get("type"), found_obj(r).get("id")) for r in records)
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
                                "with": {"inbox_id": inbox_ref(key)},
                                "json": {f"received[{position}].response_status": wanted},
                            }
                        }
                    ],
                )
        now = self.world.now_ms
        disabled_at: int | None = None
        pending: dict[int, tuple[int, list[dict[str, Any]], bool]] = {}
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
            pending[index] = (created, auto, bool(manual_ok))
        for index, (created, auto, redelivered_ok) in pending.items():
            record = records[index]
            ended = redelivered_ok or not auto or auto[-1].get("succeeded")
            failed = len(auto) if not ended and disabled_at is None else delivery.MAX_ATTEMPTS
            wanted = delivery.next_attempt_ms(created, failed)
            want = iso_ms(wanted) if wanted is not None else None
            if record.get("next_attempt_at") != want:
                self.broken(
                    "webhook attempts exactly on the model's schedule",
                    f"{record['id']} has next_attempt_at {record.get('next_attempt_at')} after"
                    f" {len(auto)} automatic attempt(s), expected {want} (§3.4)",
                    [
                        {
                            "expect": {
                                "app": "list_webhook_events",
                                "with": {"webhook_id": ref, "limit": 100},
                                "json": {f"data[{index}].next_attempt_at": want},
                            }
                        }
                    ],
                )
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
