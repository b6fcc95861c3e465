"""The session and connection lifecycles as state machines (fact sheet §3.1, §3.2).

Each class lists the states and the only transitions the contract allows; an
event that is not allowed from the current state raises
`statemachine.exceptions.TransitionNotAllowed`. `edges()` answers the allowed
(from, to) pairs so that an observed change of status can be judged.
"""

from __future__ import annotations

from statemachine import State, StateMachine

SESSION_STATUSES = ("open", "complete", "expired")  # §1.3
CONNECTION_STATUSES = ("active", "failed", "expired", "refresh_failed", "disconnected")  # §1.2


class SessionLifecycle(StateMachine):
    """§3.1: `open` until the patient finishes (`complete`) or `expires_at` passes (`expired`).

    Both ends are terminal ("retrying means creating a new session"). Completion
    means the patient finished, not that anything connected. Direct mode has no
    Done screen: the redirect back from the portal completes the session,
    success or failure (open question 4; docs/decisions.md "Patient flow",
    Completion).
    """

    open = State("open", initial=True)
    complete = State("complete", final=True)
    expired = State("expired", final=True)

    finish = open.to(complete)  # Done in Picker mode; the return in Direct mode
    expire = open.to(expired)  # now ≥ expires_at


class ConnectionLifecycle(StateMachine):
    """§3.2: one authorization attempt, from the portal redirect to its end.

    `attempting` is the attempt while the patient is at the portal; the API
    does not list it (docs/decisions.md "Patient flow", Attempts). The
    transitions the fact sheet leaves open follow docs/decisions.md:
    `attempting → expired` when the session expires mid-flight (open question 3,
    "In flight at expiry"), `active → disconnected` also when a newer
    connection of the same patient to the same source activates (open
    question 6, "Same source again"), and `active → expired` when a grant
    without a refresh token runs out ("No refresh token").
    """

    attempting = State("attempting", initial=True)
    active = State("active")
    failed = State("failed", final=True)
    expired = State("expired", final=True)
    refresh_failed = State("refresh_failed", final=True)
    disconnected = State("disconnected", final=True)

    exchange_succeeds = attempting.to(active)  # id conn_…, scopes, pull starts
    deny = attempting.to(failed)  # the patient denies consent
    portal_error = attempting.to(failed)  # the portal redirects with an OAuth error
    exchange_fails = attempting.to(failed)  # the code exchange is refused
    session_expires = attempting.to(expired)
    refresh_rejected = active.to(refresh_failed)  # tokens cleared; the webhook fires
    disconnect = active.to(disconnected)  # DELETE /patients/{id}/connections/{conn_id}
    replaced = active.to(disconnected)  # a newer active link to the same source
    access_lapses = active.to(expired)  # no refresh token and the access token ran out


def edges(machine: type[StateMachine]) -> frozenset[tuple[str, str]]:
    """Every allowed (from, to) pair of a lifecycle, by state id."""
    return frozenset(
        (transition.source.id, transition.target.id)
        for state in machine.states
        for transition in state.transitions
    )


def change_allowed(machine: type[StateMachine], before: str, after: str) -> bool:
    """An observed status change is legal: unchanged, or one allowed transition."""
    return before == after or (before, after) in edges(machine)


def is_terminal(machine: type[StateMachine], status: str) -> bool:
    return next(state.final for state in machine.states if state.id == status)


def needs_remediation(status: str) -> bool:
    """§1.4: every connection status but `active` and `disconnected` needs the patient."""
    return status not in ("active", "disconnected")
