"""`explore()`: the seeded, bounded Hypothesis run and its one `Result`."""

from __future__ import annotations

import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as use_seed
from hypothesis.stateful import get_state_machine_test

from conformance.explore.faults import usable_faults
from conformance.explore.machine import Catalog, build_machine
from conformance.explore.observe import get_json
from conformance.explore.reproducer import InvariantBroken, write_reproducer
from conformance.results import Outcome, Result
from conformance.target import Target

RESULT_ID = "EXPL-001"
AREA = "exploration"
REQUIREMENT = (
    "Any sequence of sessions, patient actions, clock moves, faults, disconnects and webhook"
    " deliveries keeps the target's state equal to the reference model's"
)
SOURCE = "§3.1, §3.2, §3.4, §4.4, §2.2"
# the portals explored: access tokens of an hour keep the refresh work of a long clock move small
EXPLORED_PORTALS = ("summit-epic", "maple-athena", "harbor-clinic", "bluebutton")
MAX_RECORD = 60  # personas with bigger records make every connect slower
DEFAULT_SHRINKS = 60  # successful shrinks of a failure (keeps a seeded run repeatable)
DEFAULT_SHRINK_S = 60.0  # and a bound on their wall time


def load_catalog(target: Target, seed: int) -> Catalog:
    """Portals, personas and faults as the control plane documents them."""
    api = target.workspace(seed)
    portals = get_json(api, "/_sim/portals")
    faults = usable_faults(get_json(api, "/_sim/faults/catalog"))
    sources = {p["slug"]: p["connection_id"] for p in portals.get("data") or []}
    slugs = tuple(s for s in EXPLORED_PORTALS if s in sources) or tuple(sorted(sources))
    people = portals.get("personas") or []
    small = [p["username"] for p in people if (p.get("resources") or 0) <= MAX_RECORD]
    personas = tuple(small or [p["username"] for p in people] or ["alice"])
    return Catalog(sources, slugs, personas, tuple(faults))


@contextmanager
def shrinking_limited_to(shrinks: int, seconds: float) -> Iterator[None]:
    """Bound how much Hypothesis shrinks (its engine allows 500 shrinks and 300 s).

    Each example here is a whole workspace driven over HTTP, so shrinking is
    costly; Hypothesis has no setting for it, only these two engine constants.
    A count keeps the shrunk result the same on every run of a seed; the time
    is a safety bound.
    """
    from hypothesis.internal.conjecture import engine

    limits = {"MAX_SHRINKS": shrinks, "MAX_SHRINKING_SECONDS": seconds}
    before = {name: getattr(engine, name) for name in limits if hasattr(engine, name)}
    for name in before:
        setattr(engine, name, limits[name])
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(engine, name, value)


def explore(
    target: Target,
    *,
    seed: int = 0,
    examples: int = 20,
    max_steps: int = 25,
    reproducer_dir: Path | None = None,
    shrinks: int = DEFAULT_SHRINKS,
    shrink_s: float = DEFAULT_SHRINK_S,
) -> list[Result]:
    """Explore `target` for `examples` examples of up to `max_steps` rules, seeded by `seed`."""
    start = time.perf_counter()

    def result(outcome: Outcome, message: str, artifacts: dict[str, str] | None = None) -> Result:
        return Result(
            id=RESULT_ID,
            area=AREA,
            requirement=REQUIREMENT,
            source=SOURCE,
            outcome=outcome,
            message=message,
            duration_s=round(time.perf_counter() - start, 4),
            artifacts=artifacts or {},
        )

    if not target.has_control_plane:
        return [result(Outcome.SKIP, "needs the /_sim control plane (clock, patient, inboxes)")]
    try:
        catalog = load_catalog(target, seed)
        machine = build_machine(target, catalog, seed)
        test = get_state_machine_test(
            machine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=max_steps,
                database=None,
                deadline=None,
                derandomize=False,
                phases=(Phase.generate, Phase.shrink),
                suppress_health_check=list(HealthCheck),
                verbosity=Verbosity.quiet,
                report_multiple_bugs=False,
                print_blob=False,
            ),
        )
        with shrinking_limited_to(shrinks, shrink_s):
            use_seed(seed)(test)()
    except InvariantBroken as broken:
        path = write_reproducer(broken, seed=seed, directory=reproducer_dir, label=RESULT_ID)
        message = (
            f"{broken.invariant}: {broken.detail} "
            f"(after {len(broken.steps)} step(s); reproducer: {path})"
        )
        return [result(Outcome.FAIL, message, {"reproducer": str(path)})]
    except Exception as crashed:  # noqa: BLE001 - a crashing exploration is reported, not raised
        tail = "".join(traceback.format_exception(crashed)[-4:])
        return [result(Outcome.ERROR, f"{type(crashed).__name__}: {crashed}\n{tail}")]
    return [
        result(
            Outcome.PASS,
            f"{examples} example(s) of up to {max_steps} step(s) kept every invariant (seed {seed})",
        )
    ]
