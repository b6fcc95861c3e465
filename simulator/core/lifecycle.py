"""The lifecycles, modelled once with python-statemachine; the store holds the state.

`transition(Machine, current, event)` answers the next state or raises
`TransitionNotAllowed`, so every state change in the simulator goes through
the same rules the conformance suite checks.
"""

from __future__ import annotations

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

__all__ = ["SessionLifecycle", "ConnectionLifecycle", "transition", "TransitionNotAllowed"]


class SessionLifecycle(StateMachine):
    """PatientSession: open -> complete | expired (both terminal)."""

    open = State(initial=True)
    complete = State(final=True)
    expired = State(final=True)

    finish = open.to(complete)
    expire = open.to(expired)


class ConnectionLifecycle(StateMachine):
    """A connection attempt inside a session.

    `pending` is the in-flight attempt (not shown by the API); it settles as
    `active` or `failed`. An active connection can lose refresh access, be
    disconnected by the org, or expire when a grant without a refresh token
    runs out.
    """

    pending = State(initial=True)
    active = State()
    failed = State(final=True)
    expired = State()
    refresh_failed = State()
    disconnected = State(final=True)

    activate = pending.to(active)
    fail = pending.to(failed)
    abandon = pending.to(expired)
    refresh_fail = active.to(refresh_failed)
    lapse = active.to(expired)
    disconnect = (
        active.to(disconnected) | refresh_failed.to(disconnected) | expired.to(disconnected)
    )


def transition(machine: type[StateMachine], current: str, event: str) -> str:
    sm = machine(start_value=current)
    sm.send(event)
    return str(sm.current_state_value)
