"""Check a whole scenario file before anything runs: one plain-words problem per line."""

from __future__ import annotations

import difflib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from scenarios.durations import PATTERN as DURATION_PATTERN
from scenarios.loader import DataPath, Document, LoadError, Problem, load_file, load_text
from scenarios.references import names_in, parse_path
from scenarios.schema import STEP_KINDS, build_schema

BUILTIN_NAMES = ("sources", "now", "workspace", "last")
_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty",
}


@dataclass
class Scenario:
    """A validated scenario file."""

    doc: Document

    @property
    def file(self) -> str:
        return self.doc.file

    @property
    def name(self) -> str:
        return str(self.doc.data["name"])

    @property
    def data(self) -> dict[str, Any]:
        return self.doc.data

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.doc.data["steps"]

    @property
    def tags(self) -> list[str]:
        return list(self.doc.data.get("tags", []))

    @property
    def seed(self) -> int:
        """The seed given, or one derived from the name (stable, distinct per scenario)."""
        if "seed" in self.doc.data:
            return int(self.doc.data["seed"])
        return zlib.crc32(self.name.encode("utf-8")) & 0x7FFFFFFF


class InvalidScenario(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _type_name(value: Any) -> str:
    for name, py in (
        ("true or false", bool),
        ("a whole number", int),
        ("a number", float),
        ("text", str),
        ("a list", list),
        ("a mapping", dict),
    ):
        if isinstance(value, py):
            return name
    return "empty" if value is None else type(value).__name__


def _dotted(path: DataPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the file"


def _nearest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    near = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.5)
    return f" (did you mean '{near[0]}'?)" if near else ""


def _schema_message(error: jsonschema.ValidationError) -> tuple[DataPath, str, bool]:
    """(path, message, at_key) for a jsonschema error, in plain words."""
    path = tuple(error.absolute_path)
    where = _dotted(path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extras = [k for k in error.instance if k not in schema.get("properties", {})]
        key = extras[0] if extras else "?"
        return (
            (*path, key),
            f"unknown field '{key}' in {where}{_nearest(key, known)}; allowed: {', '.join(known)}",
            True,
        )
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return path, f"{where} needs '{missing}'", False
    if error.validator == "enum":
        choices = [str(c) for c in error.validator_value]
        shown = ", ".join(choices[:12]) + (", ..." if len(choices) > 12 else "")
        return (
            path,
            f"{where}: '{error.instance}' is not one of {shown}{_nearest(error.instance, choices)}",
            False,
        )
    if error.validator == "type":
        want = error.validator_value
        wants = [want] if isinstance(want, str) else list(want)
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wants)
        return path, f"{where} must be {words}, not {_type_name(error.instance)}", False
    if error.validator == "oneOf":
        options = schema.get("oneOf", [])
        if any(o.get("pattern") == DURATION_PATTERN for o in options):
            return (
                path,
                f"{where}: '{error.instance}' is not a duration (write a number and a unit:"
                " ms, s, m, h, d, e.g. 90m or 1d2h)",
                False,
            )
        branch = [
            e
            for e in error.context or []
            if e.validator not in ("type", "const") or len(e.absolute_path) > len(path)
        ]
        if branch:
            deepest = max(branch, key=lambda e: len(e.absolute_path))
            return _schema_message(deepest)
        if any(o.get("const") == "run_until_idle" for o in options):
            return (
                path,
                f"{where} must be run_until_idle or one of advance, set, run_until_idle",
                False,
            )
    if error.validator in ("minProperties", "maxProperties"):
        return path, f"{where} must hold exactly one action", False
    if error.validator == "pattern":
        return path, f"{where}: '{error.instance}' is not a valid name", False
    return path, f"{where}: {error.message}", False


def _check_kinds(doc: Document) -> tuple[list[Problem], set[int]]:
    problems: list[Problem] = []
    bad: set[int] = set()
    steps = doc.data.get("steps") if isinstance(doc.data, dict) else None
    if not isinstance(steps, list):
        return problems, bad
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            problems.append(
                doc.problem(("steps", i), f"steps[{i}] must be a mapping with one step kind")
            )
            bad.add(i)
            continue
        kinds = [k for k in step if k in STEP_KINDS]
        if len(kinds) > 1 and "expect" in kinds:  # `expect` beside a call checks its answer
            kinds.remove("expect")
        if len(kinds) > 1:
            problems.append(
                doc.problem(
                    ("steps", i, kinds[1]),
                    f"steps[{i}] has two step kinds ({', '.join(kinds)}); write one per step",
                    key=True,
                )
            )
            bad.add(i)
        elif not kinds:
            others = [k for k in step if k not in ("name", "save", "with", "expect")]
            word = str(others[0]) if others else ""
            problems.append(
                doc.problem(
                    ("steps", i, word) if word else ("steps", i),
                    f"unknown step kind '{word}'{_nearest(word, STEP_KINDS)}; "
                    f"step kinds are {', '.join(STEP_KINDS)}"
                    if word
                    else f"steps[{i}] has no step kind",
                    key=bool(word),
                )
            )
            bad.add(i)
    return problems, bad


def _walk_strings(value: Any, path: DataPath):
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk_strings(v, (*path, i))


def _check_references(doc: Document, bad: set[int]) -> list[Problem]:
    problems: list[Problem] = []
    known: set[str] = set(BUILTIN_NAMES)
    for i, step in enumerate(doc.data.get("steps", [])):
        if i in bad or not isinstance(step, dict):
            continue
        for path, text in _walk_strings(step, ("steps", i)):
            for name, expr in names_in(text):
                try:
                    parse_path(expr)
                except ValueError:
                    problems.append(doc.problem(path, f"'${{{expr}}}' is not a reference"))
                    continue
                if name not in known:
                    hint = _nearest(name, sorted(known))
                    problems.append(
                        doc.problem(
                            path,
                            f"unknown ${{{name}}}: no earlier step saves '{name}'{hint}",
                        )
                    )
        if isinstance(step.get("save"), str):
            known.add(step["save"])
        inbox = step.get("inbox")
        if isinstance(inbox, dict) and isinstance(inbox.get("name"), str):
            known.add(inbox["name"])
    return problems


def _check_semantics(doc: Document, bad: set[int]) -> list[Problem]:
    problems: list[Problem] = []
    for i, step in enumerate(doc.data.get("steps", [])):
        if i in bad or not isinstance(step, dict):
            continue
        fault = step.get("fault")
        if isinstance(fault, dict) and ("inject" in fault) == ("clear" in fault):
            problems.append(
                doc.problem(("steps", i, "fault"), "a fault step needs inject or clear")
            )
        hook = step.get("webhook")
        if isinstance(hook, dict) and ("fire" in hook) == ("chaos" in hook):
            problems.append(
                doc.problem(("steps", i, "webhook"), "a webhook step needs fire or chaos")
            )
        if isinstance(hook, dict) and "chaos" in hook and "endpoint" not in hook:
            problems.append(
                doc.problem(("steps", i, "webhook"), "webhook chaos needs the endpoint id")
            )
        if step.get("patient") in ("connect", "deny") and "username" not in step:
            problems.append(doc.problem(("steps", i), "patient connect needs a username"))
        if "patient" in step and "session" not in step:
            problems.append(doc.problem(("steps", i), "a patient step needs the session"))
    return problems


def validate_document(doc: Document) -> Scenario:
    """Raise InvalidScenario with every problem found, or answer the scenario."""
    problems, bad = _check_kinds(doc)
    validator = jsonschema.Draft202012Validator(build_schema())
    for error in sorted(validator.iter_errors(doc.data), key=lambda e: list(map(str, e.path))):
        path = tuple(error.absolute_path)
        if len(path) >= 2 and path[0] == "steps" and path[1] in bad:
            continue
        if error.validator in ("allOf", "if"):
            continue
        where, message, at_key = _schema_message(error)
        problems.append(doc.problem(where, message, key=at_key))
    if isinstance(doc.data, dict):
        problems += _check_references(doc, bad) + _check_semantics(doc, bad)
    if problems:
        unique = sorted(set(problems), key=lambda p: (p.line, p.column, p.message))
        raise InvalidScenario(unique)
    return Scenario(doc)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one file; raises InvalidScenario (bad YAML included)."""
    try:
        doc = load_file(path)
    except LoadError as exc:
        raise InvalidScenario(exc.problems) from None
    return validate_document(doc)


def load_scenario_text(text: str, file: str = "<scenario>") -> Scenario:
    try:
        doc = load_text(text, file)
    except LoadError as exc:
        raise InvalidScenario(exc.problems) from None
    return validate_document(doc)


def discover(paths: list[str | Path]) -> list[Path]:
    """`*.scenario.yaml` files under each path (a file is taken as given), sorted."""
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(p.rglob("*.scenario.yaml")) + sorted(p.rglob("*.scenario.yml"))
        else:
            found.append(p)
    return found
