"""Checks: a stable id, a one-line requirement, the fact-sheet section it comes from.

A check is a plain function taking a `Context`, marked with `@check(...)`; it
raises `CheckFailed` (or uses `ctx.require`) when the target breaks the
requirement and `Skipped` when it cannot run here. `collect` finds the marked
functions in the check modules, so nothing is registered by importing.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from conformance.control import Control
from conformance.http import Client
from conformance.results import CheckFailed, Skipped

CHECK_MODULES: tuple[str, ...] = (
    "conformance.checks.sessions",
    "conformance.checks.connections",
    "conformance.checks.patients",
    "conformance.checks.catalog",
    "conformance.checks.records",
    "conformance.checks.webhooks",
    "conformance.checks.deliveries",
    "conformance.checks.errors",
    "conformance.checks.pagination",
    "conformance.checks.versions",
)

CheckFunc = Callable[["Context"], None]


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    requirement: str
    source: str  # the section of connect-api-facts.md, e.g. "§3.1"
    func: CheckFunc
    needs_control: bool = False


@dataclass
class Context:
    """What a check gets: a client for a fresh workspace, the control plane if any."""

    api: Client
    seed: int
    has_control_plane: bool
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def control(self) -> Control:
        if not self.has_control_plane:
            raise Skipped("needs the /_sim control plane (clock, patient, inboxes, faults)")
        return Control(self.api)

    @staticmethod
    def require(condition: bool, message: str) -> None:
        if not condition:
            raise CheckFailed(message)


def check(
    id: str, area: str, requirement: str, source: str, *, needs_control: bool = False
) -> Callable[[CheckFunc], CheckFunc]:
    """Mark a function as a check; `collect` picks it up."""

    def mark(func: CheckFunc) -> CheckFunc:
        func.__check__ = Check(id, area, requirement, source, func, needs_control)  # type: ignore[attr-defined]
        return func

    return mark


def checks_in(module: ModuleType) -> list[Check]:
    found = [v.__check__ for v in vars(module).values() if hasattr(v, "__check__")]
    return sorted(found, key=lambda c: c.id)


def collect(modules: Iterable[str] = CHECK_MODULES) -> list[Check]:
    """Every check of the given modules, by id; duplicate ids are an error."""
    found: dict[str, Check] = {}
    for name in modules:
        for item in checks_in(importlib.import_module(name)):
            if item.id in found:
                raise ValueError(f"check id {item.id} is defined twice")
            found[item.id] = item
    return [found[k] for k in sorted(found)]


def select(checks: list[Check], only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[Check]:
    """`--only` / `--skip`: ids, areas or glob patterns (`SESS-*`)."""
    only, skip = list(only), list(skip)

    def hit(item: Check, patterns: list[str]) -> bool:
        return any(
            fnmatch.fnmatchcase(item.id, p.upper()) or item.area == p.lower() for p in patterns
        )

    return [c for c in checks if (not only or hit(c, only)) and not hit(c, skip)]
