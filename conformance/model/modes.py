"""Picker and Direct mode (fact sheet §1.3, §7): how a session is started, ends and returns.

The mode is chosen by the request's shape alone: `connection_id` present is
Direct, absent is Picker (§1.3). Picker shows Medblocks' page: the patient may
connect several sources and presses Done, which completes the session (§3.1).
Direct targets one source and has no Done screen; the return from the portal
completes the session, success or failure (open question 4, settled in
docs/decisions.md "Patient flow", Completion).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Mode = Literal["picker", "direct"]


def mode_of(body: Mapping[str, Any]) -> Mode:
    """§1.3: `connection_id` in the create request selects Direct mode."""
    return "direct" if body.get("connection_id") is not None else "picker"


def completes_on_return(mode: Mode) -> bool:
    """Whether the patient's return from the portal completes the session (Direct only)."""
    return mode == "direct"


def has_done_screen(mode: Mode) -> bool:
    """§7: Picker ends on a completion screen with a Done button; Direct has none."""
    return mode == "picker"


def max_sources(mode: Mode) -> int | None:
    """§3.1: Direct targets exactly one source; Picker may connect several (no stated cap)."""
    return 1 if mode == "direct" else None


def return_params(
    mode: Mode,
    patient_id: str,
    session_id: str,
    *,
    source_id: str | None = None,
    error: str | None = None,
) -> dict[str, str]:
    """§7: the query the patient returns to `return_url` with.

    Picker: `patient_id` and `patient_session_id`, no `success` flag. Direct
    success adds `success=true&connection_id=<fhirsrc_…>`; failure adds
    `success=false&error=<code>` (`error_description` is optional and not modelled).
    """
    params = {"patient_id": patient_id, "patient_session_id": session_id}
    if mode == "picker":
        return params
    if error is None:
        if source_id is None:
            raise ValueError("a Direct-mode success returns the source's connection_id")
        return {**params, "success": "true", "connection_id": source_id}
    return {**params, "success": "false", "error": error}


def direct_return_error(failure_code: str) -> str:
    """The Direct return's `error` for an attempt's `failure_code` (docs/decisions.md

    "Direct-mode return": a denial is `user_denied`; state expiry and refused code
    exchanges keep their codes; every other portal error is `oauth_callback_failed`)."""
    if failure_code == "access_denied":
        return "user_denied"
    if failure_code in ("oauth_state_expired", "token_exchange_failed"):
        return failure_code
    return "oauth_callback_failed"
