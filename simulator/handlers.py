"""Every domain module that keeps state or runs timed jobs, in one place.

Importing this module registers each module's schema with the store;
`install` registers each module's job kinds with the scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import connections, flow, patients, sessions, workspaces  # noqa: F401  (schemas)
from .webhooks import delivery as webhook_delivery  # schemas of every webhooks module

if TYPE_CHECKING:
    from .runtime import Runtime


def install(rt: Runtime) -> None:
    sessions.install(rt)
    flow.install(rt)
    webhook_delivery.install(rt)
