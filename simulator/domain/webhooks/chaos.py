"""Chaos for grading receivers: per-endpoint faults injected into otherwise real deliveries.

Configuration (all optional; a probability is a number 0-1, `true` means 1):

- `duplicate`: after a delivery the receiver acknowledged, send the same event again.
- `reorder`: hold deliveries for `reorder_window_seconds` (default 60), then send
  the held batch newest first.
- `delay_seconds`: hold every new delivery this long before its first attempt.
- `bad_signature`: sign with a key that is not the endpoint's secret.
- `stale_timestamp`: sign correctly but with a timestamp `STALE_SECONDS` old.
- `tampered_body`: sign the real body, send a modified one.
- `previous_secret`: sign with the secret in force before the last rotation.

Not a fault but a delivery setting kept beside them: `signing_clock`. Deliveries are
signed with the wall-clock time of the actual send (`wall`, the default), as every
receiver checking the 300 s tolerance expects, whatever the workspace's virtual
clock says; `virtual` signs with the workspace's clock instead, for byte-identical
replays. The event's own fields always carry virtual time.

Whether a fault applies is drawn from the workspace seed and the delivery, so
a run is reproducible. Every delivery a fault touched is marked in the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core.store import Store, dumps, loads
from simulator.core.timeutil import SECOND
from simulator.domain.webhooks.endpoints import Endpoint

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

STALE_SECONDS = 3600
DEFAULT_REORDER_WINDOW = 60
SIGNATURE_FAULTS = ("bad_signature", "stale_timestamp", "tampered_body", "previous_secret")
PROBABILITY = {"type": ["number", "boolean"], "minimum": 0, "maximum": 1}
SIGNATURE_FAULT_TEXT = {
    "bad_signature": "Share of deliveries sent with a wrong `v1` signature (0–1, or true)",
    "stale_timestamp": "Share of deliveries signed with a `t` outside the 300 s tolerance",
    "tampered_body": "Share of deliveries whose body is changed after signing",
    "previous_secret": "Share of deliveries signed with the secret from before the last rotation",
}

CHAOS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "duplicate": {
            **PROBABILITY,
            "description": "Share of deliveries sent twice (0–1, or true)",
        },
        "reorder": {"description": "Hold deliveries and send them out of order", "type": "boolean"},
        "reorder_window_seconds": {
            "description": "How long deliveries are held to be reordered",
            "type": "integer",
            "minimum": 1,
            "maximum": 86400,
        },
        "delay_seconds": {
            "description": "Send every delivery this much later",
            "type": "integer",
            "minimum": 0,
            "maximum": 7 * 86400,
        },
        **{
            name: {**PROBABILITY, "description": SIGNATURE_FAULT_TEXT[name]}
            for name in SIGNATURE_FAULTS
        },
        "signing_clock": {
            "description": "Sign with wall time (`wall`, default) or the virtual clock (`virtual`)",
            "enum": ["wall", "virtual"],
        },
    },
}


def normalise(body: dict[str, Any]) -> dict[str, Any]:
    """Drop options that are off; booleans of probabilities become 0/1."""
    config: dict[str, Any] = {}
    for name, value in body.items():
        if name in ("duplicate", *SIGNATURE_FAULTS):
            value = float(value)
            if value > 0:
                config[name] = 1.0 if value >= 1 else value
        elif name == "reorder":
            if value:
                config[name] = True
        elif name == "delay_seconds":
            if value > 0:
                config[name] = int(value)
        elif name == "signing_clock":
            if value == "virtual":
                config[name] = value
        else:
            config[name] = value
    if "reorder" not in config:
        config.pop("reorder_window_seconds", None)
    return config


def render(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "duplicate": config.get("duplicate", 0),
        "reorder": config.get("reorder", False),
        "reorder_window_seconds": config.get("reorder_window_seconds", DEFAULT_REORDER_WINDOW),
        "delay_seconds": config.get("delay_seconds", 0),
        **{name: config.get(name, 0) for name in SIGNATURE_FAULTS},
        "signing_clock": config.get("signing_clock", "wall"),
    }


def config_of(endpoint: Endpoint) -> dict[str, Any]:
    return loads(endpoint.chaos, {})


def signs_virtually(config: dict[str, Any]) -> bool:
    """Whether deliveries are signed with the workspace's virtual time (opt-in)."""
    return config.get("signing_clock") == "virtual"


def signing_time(rt: Runtime, ws_id: str, endpoint: Endpoint) -> int:
    """The `t=` of a delivery sent now, in unix seconds."""
    if signs_virtually(config_of(endpoint)):
        return rt.now(ws_id) // 1000
    return rt.wall() // 1000


def save(store: Store, ws_id: str, endpoint_id: str, config: dict[str, Any]) -> None:
    store.execute(
        "UPDATE webhook_endpoints SET chaos = ?, chaos_state = '{}'"
        " WHERE workspace_id = ? AND id = ?",
        (dumps(config), ws_id, endpoint_id),
    )


def _draw(rt: Runtime, ws_id: str, probability: float, *labels: object) -> bool:
    if probability >= 1:
        return True
    if probability <= 0:
        return False
    return rt.rng(ws_id, "webhook-chaos", *labels).random() < probability


def first_attempt(rt: Runtime, ws_id: str, endpoint: Endpoint, now: int) -> tuple[int, list[str]]:
    """When a new delivery's first attempt is due, and the scheduling faults applied."""
    config = config_of(endpoint)
    due, marks = now, []
    if config.get("reorder"):
        state = loads(endpoint.chaos_state, {})
        window = config.get("reorder_window_seconds", DEFAULT_REORDER_WINDOW) * SECOND
        if state.get("batch_end", 0) > now:
            count = int(state.get("batch_count", 1))
        else:
            state["batch_end"], count = now + window, 0
        # Each later delivery of the batch is due one millisecond earlier: newest first.
        due = max(now, state["batch_end"] - count)
        state["batch_count"] = count + 1
        rt.store.execute(
            "UPDATE webhook_endpoints SET chaos_state = ? WHERE workspace_id = ? AND id = ?",
            (dumps(state), ws_id, endpoint.id),
        )
        marks.append("reordered")
    delay = config.get("delay_seconds", 0)
    if delay:
        due += delay * SECOND
        marks.append("delayed")
    return due, marks


def signature_faults(
    rt: Runtime, ws_id: str, endpoint: Endpoint, delivery_id: str, attempt: int
) -> list[str]:
    """The signature faults that apply to this attempt of a delivery."""
    config = config_of(endpoint)
    faults = []
    for name in SIGNATURE_FAULTS:
        if _draw(rt, ws_id, config.get(name, 0), delivery_id, attempt, name):
            if name == "previous_secret" and not endpoint.previous_secret:
                continue  # nothing to sign with before the first rotation
            faults.append(name)
    return faults


def wants_duplicate(
    rt: Runtime, ws_id: str, endpoint: Endpoint, delivery_id: str, attempt: int
) -> bool:
    return _draw(rt, ws_id, config_of(endpoint).get("duplicate", 0), delivery_id, attempt, "dup")


def tamper(body: bytes) -> bytes:
    """The body with one value changed after signing (still valid JSON)."""
    marker = b'"object":"event"'
    if marker in body:
        return body.replace(marker, b'"object":"event","tampered":true', 1)
    return body + b" "
