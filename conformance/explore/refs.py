"""How a reproducer names the objects of its story: saved responses (`scenarios/README.md`)."""

from __future__ import annotations


def session_ref(key: str) -> str:
    """The session created by the step saved as `key` (`create_session`)."""
    return "${" + key + ".id}"


def connection_ref(key: str) -> str:
    """The `conn_` id of the link made by the patient step saved as `key`."""
    return "${" + key + ".connection.id}"


def endpoint_ref(key: str) -> str:
    """The webhook endpoint of the inbox named `key`."""
    return "${" + key + ".webhook.id}"


def inbox_ref(key: str) -> str:
    return "${" + key + ".id}"
