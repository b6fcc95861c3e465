"""The reference model: lifecycles (§3.1, §3.2), the retry schedule (§4.4), paging (§2.2, §1.10)."""

from __future__ import annotations

import pytest
from statemachine.exceptions import TransitionNotAllowed

from conformance.model import cursors, delivery, lifecycles, modes, timing
from conformance.model.lifecycles import ConnectionLifecycle, SessionLifecycle

# -- sessions -----------------------------------------------------------------------------


def test_session_edges_are_exactly_open_to_complete_or_expired() -> None:
    assert lifecycles.edges(SessionLifecycle) == {("open", "complete"), ("open", "expired")}
    assert SessionLifecycle().current_state_value == "open"
    assert {s.id for s in SessionLifecycle.states} == set(lifecycles.SESSION_STATUSES)


@pytest.mark.parametrize("first,second", [("finish", "expire"), ("expire", "finish")])
def test_session_terminal_states_have_no_exit(first: str, second: str) -> None:
    machine = SessionLifecycle()
    machine.send(first)
    with pytest.raises(TransitionNotAllowed):
        machine.send(second)
    with pytest.raises(TransitionNotAllowed):
        machine.send(first)
    assert lifecycles.is_terminal(SessionLifecycle, machine.current_state_value)


def test_session_expiry_is_exact_to_the_millisecond() -> None:
    created = timing.parse_ms("2026-04-25T14:30:00.000Z")
    expires = timing.session_expires_at(created)
    assert timing.iso_ms(expires) == "2026-04-25T15:00:00.000Z"  # §1.3 example
    assert timing.iso_ms(timing.session_expires_at(created + 7, 60)) == "2026-04-25T14:31:00.007Z"
    assert not timing.session_has_expired(expires, expires - 1)
    assert timing.session_has_expired(expires, expires)


@pytest.mark.parametrize("bad", [59, 86401, 0, -1, 1800.0, True, "1800"])
def test_session_expires_in_outside_the_range_is_refused(bad: object) -> None:
    assert not timing.valid_expires_in(bad)
    with pytest.raises(ValueError):
        timing.session_expires_at(0, bad)  # type: ignore[arg-type]


def test_expires_in_bounds_are_inclusive() -> None:
    assert timing.session_expires_at(0, 60) == 60_000
    assert timing.session_expires_at(0, 86400) == 86_400_000


# -- connections --------------------------------------------------------------------------


def test_connection_edges_follow_the_fact_sheet_and_the_decisions() -> None:
    assert lifecycles.edges(ConnectionLifecycle) == {
        ("attempting", "active"),
        ("attempting", "failed"),
        ("attempting", "expired"),
        ("active", "refresh_failed"),
        ("active", "disconnected"),
        ("active", "expired"),
    }
    listed = {s.id for s in ConnectionLifecycle.states} - {"attempting"}
    assert listed == set(lifecycles.CONNECTION_STATUSES)


@pytest.mark.parametrize(
    "before,after",
    [
        ("failed", "active"),
        ("refresh_failed", "active"),
        ("disconnected", "active"),
        ("expired", "active"),
        ("failed", "refresh_failed"),
        ("attempting", "refresh_failed"),
        ("attempting", "disconnected"),
        ("refresh_failed", "disconnected"),
    ],
)
def test_connection_changes_outside_the_lifecycle_are_illegal(before: str, after: str) -> None:
    assert not lifecycles.change_allowed(ConnectionLifecycle, before, after)


def test_a_failed_connection_cannot_be_refreshed_or_reactivated() -> None:
    machine = ConnectionLifecycle()
    machine.send("deny")
    assert machine.current_state_value == "failed"
    for event in ("exchange_succeeds", "refresh_rejected", "disconnect"):
        with pytest.raises(TransitionNotAllowed):
            machine.send(event)


def test_an_active_connection_lapses_or_is_disconnected_once() -> None:
    machine = ConnectionLifecycle()
    machine.send("exchange_succeeds")
    machine.send("refresh_rejected")
    assert machine.current_state_value == "refresh_failed"
    with pytest.raises(TransitionNotAllowed):
        machine.send("disconnect")
    assert lifecycles.change_allowed(ConnectionLifecycle, "active", "active")
    assert lifecycles.needs_remediation("refresh_failed")
    assert not lifecycles.needs_remediation("disconnected")


# -- webhook delivery ---------------------------------------------------------------------


def test_attempt_offsets_are_the_cumulative_column() -> None:
    minute, hour = 60_000, 3_600_000
    expected = [
        0,
        minute,
        6 * minute,
        36 * minute,
        2 * hour + 36 * minute,
        14 * hour + 36 * minute,
        38 * hour + 36 * minute,
        62 * hour + 36 * minute,
        86 * hour + 36 * minute,
    ]
    assert [delivery.attempt_offset_ms(n) for n in range(1, 10)] == expected
    assert delivery.attempt_time_ms(1000, 3) == 1000 + 6 * minute
    for bad in (0, 10):
        with pytest.raises(ValueError):
            delivery.attempt_offset_ms(bad)


def test_next_attempt_and_disable() -> None:
    assert delivery.next_attempt_ms(0, 0) == 0
    assert delivery.next_attempt_ms(0, 2) == 6 * 60_000
    assert delivery.next_attempt_ms(0, 8) == delivery.attempt_offset_ms(9)
    assert delivery.next_attempt_ms(0, 9) is None
    assert delivery.disables_endpoint(9, succeeded=False)
    assert not delivery.disables_endpoint(9, succeeded=True)
    assert not delivery.disables_endpoint(8, succeeded=False)


def test_success_answers_and_redelivery_window() -> None:
    assert [delivery.is_success(s) for s in (200, 204, 299, 300, 404, 500, None)] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    assert [delivery.answer([500, 503, 200], i) for i in range(5)] == [500, 503, 200, 200, 200]
    assert delivery.answer([], 3) == 200
    assert delivery.redeliver_allowed(None, 0)
    assert not delivery.redeliver_allowed(0, 59_999)
    assert delivery.redeliver_allowed(0, 60_000)
    assert delivery.retry_after_s(0, 0) == 60
    assert delivery.retry_after_s(0, 59_001) == 1
    assert delivery.retry_after_s(0, 59_999) == 1
    assert delivery.retry_after_s(0, 30_500) == 30


# -- paging -------------------------------------------------------------------------------


def test_limits_and_defaults() -> None:
    assert cursors.effective_limit(None) == 10
    assert cursors.effective_limit(None, records=True) == 100
    assert cursors.limit_valid(1) and cursors.limit_valid(100)
    assert not any(cursors.limit_valid(v) for v in (0, 101, 1.5, True, "10"))
    with pytest.raises(ValueError):
        cursors.effective_limit(101)


def test_a_walk_sees_every_item_once() -> None:
    pages = cursors.page_walk(23, 10)
    assert [(p.start, p.stop, p.has_more) for p in pages] == [
        (0, 10, True),
        (10, 20, True),
        (20, 23, False),
    ]
    assert [(p.start, p.stop, p.has_more) for p in cursors.page_walk(0, 10)] == [(0, 0, False)]
    assert cursors.page_walk(20, 10)[-1] == cursors.Page(10, 20, False)


def test_page_envelope_problems() -> None:
    good = {"resource_type": "list", "data": [], "has_more": False, "next_cursor": None}
    assert cursors.list_page_problems(good) == []
    assert cursors.list_page_problems({**good, "has_more": True}) != []
    assert cursors.list_page_problems({**good, "next_cursor": "abc"}) != []
    assert cursors.list_page_problems({"data": []}) != []
    records = {**good, "patient_id": "p1", "previous_cursor": "short"}
    assert any("previous_cursor" in p for p in cursors.list_page_problems(records, records=True))
    assert (
        cursors.list_page_problems({**records, "previous_cursor": "aB3xK9mQp2Lz"}, records=True)
        == []
    )


def test_records_cursor_form_and_lifetime() -> None:
    assert cursors.records_cursor_well_formed("aB3xK9mQp2Lz")
    assert not cursors.records_cursor_well_formed("aB3xK9mQp2L")
    assert not cursors.records_cursor_well_formed("aB3xK9mQp2L!")
    key = ("p1", ["Observation"], None)
    week = 7 * 86_400_000
    assert cursors.records_cursor_usable(0, week - 1, issued_for=key, used_for=key)
    assert not cursors.records_cursor_usable(0, week, issued_for=key, used_for=key)
    other = ("p2", ["Observation"], None)
    assert not cursors.records_cursor_usable(0, 1, issued_for=key, used_for=other)
    refiltered = ("p1", ["Condition"], None)
    assert not cursors.records_cursor_usable(0, 1, issued_for=key, used_for=refiltered)


# -- Picker and Direct --------------------------------------------------------------------


def test_the_mode_follows_the_request_shape() -> None:
    assert modes.mode_of({"patient_id": "p1", "return_url": "https://a/b"}) == "picker"
    assert modes.mode_of({"connection_id": "fhirsrc_x"}) == "direct"
    assert modes.mode_of({"connection_id": None}) == "picker"
    assert modes.completes_on_return("direct") and not modes.completes_on_return("picker")
    assert modes.has_done_screen("picker") and not modes.has_done_screen("direct")
    assert (modes.max_sources("direct"), modes.max_sources("picker")) == (1, None)


def test_return_parameters() -> None:
    assert modes.return_params("picker", "p1", "ps_1", source_id="fhirsrc_x") == {
        "patient_id": "p1",
        "patient_session_id": "ps_1",
    }
    assert modes.return_params("direct", "p1", "ps_1", source_id="fhirsrc_x") == {
        "patient_id": "p1",
        "patient_session_id": "ps_1",
        "success": "true",
        "connection_id": "fhirsrc_x",
    }
    failed = modes.return_params("direct", "p1", "ps_1", error="user_denied")
    assert (failed["success"], failed["error"]) == ("false", "user_denied")
    assert "connection_id" not in failed
    with pytest.raises(ValueError):
        modes.return_params("direct", "p1", "ps_1")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("access_denied", "user_denied"),
        ("token_exchange_failed", "token_exchange_failed"),
        ("oauth_state_expired", "oauth_state_expired"),
        ("invalid_scope", "oauth_callback_failed"),
        ("server_error", "oauth_callback_failed"),
    ],
)
def test_direct_return_errors(code: str, error: str) -> None:
    assert modes.direct_return_error(code) == error
