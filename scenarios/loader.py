"""Read a scenario file keeping the line and column of every value (PyYAML node marks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Location = tuple[int, int]  # 1-based line and column
DataPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file, in plain words."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class Document:
    """A loaded file: its data and where each value (and each mapping key) was written."""

    file: str
    data: Any
    values: dict[DataPath, Location] = field(default_factory=dict)
    keys: dict[DataPath, Location] = field(default_factory=dict)

    def where(self, path: DataPath, *, key: bool = False) -> Location:
        """The location of `path`, or of its nearest written parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if not key and probe in self.keys:
                return self.keys[probe]
            probe = probe[:-1]
        return self.values.get((), (1, 1))

    def problem(self, path: DataPath, message: str, *, key: bool = False) -> Problem:
        line, col = self.where(path, key=key)
        return Problem(self.file, line, col, message)


class LoadError(Exception):
    """A file that is not YAML a scenario can be read from."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _mark(node: yaml.Node) -> Location:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(node: yaml.Node, path: DataPath, doc: Document, constructor: Any) -> Any:
    doc.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                key = str(key)
            if key in out:
                line, col = _mark(key_node)
                raise LoadError([Problem(doc.file, line, col, f"duplicate key '{key}'")])
            doc.keys[(*path, key)] = _mark(key_node)
            out[key] = _build(value_node, (*path, key), doc, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, constructor) for i, item in enumerate(node.value)]
    value = constructor.construct_object(node, deep=True)
    if hasattr(value, "isoformat"):  # keep instants as written
        return node.value
    return value


def load_text(text: str, file: str = "<scenario>") -> Document:
    """Parse `text`; raises LoadError with file, line and column on bad YAML."""
    doc = Document(file=file, data=None)
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise LoadError([Problem(file, 1, 1, "the file is empty")])
            doc.data = _build(node, (), doc, loader)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "not valid YAML"
        raise LoadError([Problem(file, line, col, f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise LoadError([Problem(file, 1, 1, f"not valid YAML: {exc}")]) from None
    return doc


def load_file(path: str | Path) -> Document:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LoadError([Problem(str(p), 1, 1, f"cannot read the file: {exc}")]) from None
    return load_text(text, str(p))
