"""Every domain module that keeps state or runs timed jobs, in one place.

Importing this module registers each module's schema with the store;
`install` registers each module's job kinds with the scheduler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import portal_mocks  # noqa: F401  (schemas of the mock portals)

from . import (  # noqa: F401  (schemas)
    api_faults,
    connections,
    flow,
    patients,
    pull,
    records,
    sessions,
    tokens,
    workspaces,
)
from .webhooks import delivery as webhook_delivery  # schemas of every webhooks module
from .webhooks import inbox as webhook_inbox  # noqa: F401  (schema)

if TYPE_CHECKING:
    from .runtime import Runtime


def install(rt: Runtime) -> None:
    sessions.install(rt)
    flow.install(rt)
    tokens.install(rt)
    pull.install(rt)
    webhook_delivery.install(rt)
