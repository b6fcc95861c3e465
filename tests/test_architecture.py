"""The import rules of the layers, checked statically, and two runtimes side by side.

Layers import downward only: `simulator.core` imports nothing above it;
`simulator.clients` imports core; `simulator.domain` imports core, clients and
domain; `simulator.web` imports everything below it; the composition root and
the entry points sit on top. `portal_mocks` depends on `simulator.core` only,
the scenario runner only on `simulator.testing` (an in-process server to talk
HTTP to), and the conformance suite on no simulator code at all (only its in-process
target builds a `simulator.testing.Sim` to talk HTTP to). No import circle
remains, counting imports under `TYPE_CHECKING` and inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from simulator.core.config import Config
from simulator.domain import sessions
from simulator.testing import Sim

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("simulator", "portal_mocks", "scenarios", "conformance")

# (importer prefix, what it may import among the project's modules)
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("simulator.core", ("simulator.core",)),
    ("simulator.clients", ("simulator.core", "simulator.clients")),
    ("simulator.domain", ("simulator.core", "simulator.clients", "simulator.domain")),
    ("simulator.web", ("simulator.core", "simulator.clients", "simulator.domain", "simulator.web")),
    ("portal_mocks", ("portal_mocks", "simulator.core")),
    # the in-process target is the suite's one door to simulator code (its test entry point)
    ("conformance.target", ("conformance", "simulator.testing")),
    ("conformance", ("conformance",)),
    # scenarios talk HTTP only; `simulator.testing` gives them an in-process server
    ("scenarios", ("scenarios", "simulator.testing")),
)


def module_files(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the project modules it imports (anywhere in the file)."""
    files = module_files(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in files}

    def owner(dotted: str) -> str | None:
        while dotted and dotted not in files:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from pkg import sub` imports the submodule; `from mod import name` the module
                targets = [
                    f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module
                    for alias in node.names
                ]
            for target in targets:
                found = owner(target)
                if found is not None and found != name:
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that break a layer rule, as `importer -> imported` lines.

    The first rule whose prefix holds the importer is its rule."""
    broken = []
    for importer, imported in sorted(graph.items()):
        rule = next((allowed for prefix, allowed in RULES if _within(importer, prefix)), None)
        if rule is None:
            continue
        for target in sorted(imported):
            if target == "simulator":  # the package itself holds only its version
                continue
            if not any(_within(target, ok) for ok in rule):
                broken.append(f"{importer} -> {target}")
    return broken


# -- the project itself ---------------------------------------------------------------------


def test_no_import_cycle_among_the_projects_modules() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_every_import_follows_the_layer_rules() -> None:
    assert violations(import_graph(ROOT)) == []


def test_the_graph_sees_the_project() -> None:
    graph = import_graph(ROOT)
    assert "simulator.core.runtime" in graph["simulator.compose"]
    assert "simulator.core.store" in graph["portal_mocks.grants"]


# -- the checks themselves fail on a broken tree ---------------------------------------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


BASE = {
    "simulator/__init__.py": "",
    "simulator/core/__init__.py": "",
    "simulator/core/store.py": "",
    "simulator/domain/__init__.py": "",
    "simulator/domain/sessions.py": "from simulator.core import store\n",
    "simulator/web/__init__.py": "",
    "simulator/web/app.py": "from simulator.domain import sessions\n",
    "portal_mocks/__init__.py": "",
    "portal_mocks/grants.py": "from simulator.core.store import Store\n",
}


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    graph = import_graph(_tree(tmp_path, BASE), ("simulator", "portal_mocks"))
    assert cycles(graph) == [] and violations(graph) == []


@pytest.mark.parametrize("guarded", [False, True])
def test_a_cycle_is_found_even_under_type_checking(tmp_path: Path, guarded: bool) -> None:
    back = "from simulator.domain import sessions\n"
    if guarded:
        back = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    " + back
    files = {**BASE, "simulator/core/store.py": back}
    graph = import_graph(_tree(tmp_path, files), ("simulator", "portal_mocks"))
    assert cycles(graph) == [["simulator.core.store", "simulator.domain.sessions"]]
    assert "simulator.core.store -> simulator.domain.sessions" in violations(graph)


def test_portals_importing_simulator_domain_or_web_is_refused(tmp_path: Path) -> None:
    files = {
        **BASE,
        "portal_mocks/grants.py": "def f():\n    from simulator.web import app\n",
        "portal_mocks/tokens.py": "from simulator.domain.sessions import x\n",
    }
    graph = import_graph(_tree(tmp_path, files), ("simulator", "portal_mocks"))
    assert violations(graph) == [
        "portal_mocks.grants -> simulator.web.app",
        "portal_mocks.tokens -> simulator.domain.sessions",
    ]


def test_the_conformance_model_and_checks_importing_simulator_code_is_refused(
    tmp_path: Path,
) -> None:
    """A suite that reused the simulator's own rules would pass a wrong rule."""
    files = {
        **BASE,
        "simulator/testing.py": "",
        "conformance/__init__.py": "",
        "conformance/target.py": "def f():\n    from simulator.testing import Sim\n",
        "conformance/model/__init__.py": "",
        "conformance/model/sessions.py": "from simulator.domain import sessions\n",
        "conformance/checks/__init__.py": "",
        "conformance/checks/records.py": "def f():\n    from simulator.testing import Sim\n",
    }
    graph = import_graph(_tree(tmp_path, files), ("simulator", "portal_mocks", "conformance"))
    assert violations(graph) == [
        "conformance.checks.records -> simulator.testing",
        "conformance.model.sessions -> simulator.domain.sessions",
    ]


def test_a_relative_import_resolves_like_python(tmp_path: Path) -> None:
    files = {**BASE, "simulator/domain/sessions.py": "from ..web import app\n"}
    graph = import_graph(_tree(tmp_path, files), ("simulator", "portal_mocks"))
    assert graph["simulator.domain.sessions"] == {"simulator.web.app"}
    assert violations(graph) == ["simulator.domain.sessions -> simulator.web.app"]


# -- the SQL dialect lives in the store ------------------------------------------------------------

SQLITE_ONLY = ("INSERT OR ", "REPLACE INTO", "rowid", "lastrowid", "PRAGMA", "sqlite_master")


def sqlite_only_uses(root: Path) -> list[str]:
    """Places outside `simulator/core/store.py` that use SQLite-only SQL or cursor features."""
    found = []
    for name, path in module_files(root).items():
        if name == "simulator.core.store":
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            found += [f"{name}:{lineno}: {word}" for word in SQLITE_ONLY if word in line]
    return found


def test_sqlite_only_sql_stays_in_the_store() -> None:
    """Statements elsewhere are portable (`ON CONFLICT`, `RETURNING`) so a PostgreSQL
    store can be added behind `Store` without touching the domain."""
    assert sqlite_only_uses(ROOT) == []


def test_the_dialect_check_finds_a_sqlite_only_statement(tmp_path: Path) -> None:
    files = {
        **BASE,
        "simulator/domain/sessions.py": 'SQL = "INSERT OR REPLACE INTO t VALUES (1)"\n',
    }
    assert sqlite_only_uses(_tree(tmp_path, files)) == [
        "simulator.domain.sessions:1: INSERT OR ",
        "simulator.domain.sessions:1: REPLACE INTO",
    ]


# -- two runtimes in one process share nothing -----------------------------------------------------


def test_two_runtimes_side_by_side_do_not_affect_each_other() -> None:
    one = Sim(Config(base_url="http://one.test", default_api_key="mb_sk_sbx_one_runtime"))
    two = Sim(Config(base_url="http://two.test", default_api_key="mb_sk_sbx_two_runtime"))
    try:
        heard: list[str] = []
        one.runtime.hooks.subscribe(sessions.EXPIRED, lambda rt, ws, sid: heard.append(sid))
        assert len(two.runtime.hooks.subscribers(sessions.EXPIRED)) == 1  # only the wired one
        assert len(one.runtime.hooks.subscribers(sessions.EXPIRED)) == 2

        ran: list[int] = []
        one.runtime.scheduler.register("test.only_one", lambda rt, job: ran.append(job.id))
        assert "test.only_one" not in two.runtime.scheduler.handlers

        api_one, api_two = one.api(), two.api()
        body = {"patient_id": "p1", "return_url": "https://app.example/done", "expires_in": 60}
        first = api_one.post("/patient-sessions", body).json
        second = api_two.post("/patient-sessions", body).json
        assert first["url"].startswith("http://one.test/") and second["url"].startswith(
            "http://two.test/"
        )
        ws_two = two.runtime.default_workspace.id
        two.runtime.scheduler.schedule(ws_two, "test.only_one", two.runtime.now(ws_two))

        assert api_one.post("/_sim/clock/advance", {"seconds": 60}).json["jobs_run"] == 1
        assert heard == [first["id"]]
        assert api_two.get(f"/patient-sessions/{second['id']}").json["status"] == "open"

        assert api_two.post("/_sim/clock/advance", {"seconds": 60}).json["jobs_run"] == 2
        assert heard == [first["id"]] and ran == []  # two's job had no handler there
        assert api_two.get(f"/patient-sessions/{second['id']}").json["status"] == "expired"
        failed = two.runtime.store.one("SELECT state, error FROM jobs WHERE kind = 'test.only_one'")
        assert failed["state"] == "failed" and "no handler" in failed["error"]
    finally:
        one.close()
        two.close()
