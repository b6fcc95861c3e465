"""Hypothesis stateful exploration of a target against the reference model.

`explore(target)` runs the rule-based state machine of `machine` for a
bounded, seeded number of examples and answers one `Result` (`EXPL-001`):
pass, or fail with the invariant that broke and the path of a scenario file
that reproduces the shrunk failure (`reproducer`).
"""

from __future__ import annotations

from conformance.explore.run import explore

__all__ = ["explore"]
