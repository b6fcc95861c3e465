"""Every domain module that keeps state or runs timed jobs, in one place.

Importing this module registers each module's schema with the store;
`install` registers each module's job kinds with the scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import portal_mocks  # noqa: F401  (schemas of the mock portals)
from simulator.domain import (
    attempts,
    keepalive,
    pulls,
    sessions,
)
from simulator.domain.webhooks import (
    deliveries as webhook_delivery,  # schemas of every webhooks module
)
from simulator.domain.webhooks import inboxes as webhook_inbox  # noqa: F401  (schema)

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime


def install(rt: Runtime) -> None:
    sessions.install(rt)
    attempts.install(rt)
    keepalive.install(rt)
    pulls.install(rt)
    webhook_delivery.install(rt)
