"""Reading HTML forms the way a browser without JavaScript does.

One parser for everything that drives the hosted pages and the portals'
pages over HTTP: each `<form>` with its action, method, fields (hidden and
text inputs, checked boxes) and submit buttons, plus the text of elements
whose class mentions `error` (what a page shows after a failed submit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    id: str | None
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.errors: list[str] = []
        self._current: Form | None = None
        self._error_tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if self._error_tag is None and "error" in a.get("class", ""):
            self._error_tag = tag
        if tag == "form":
            method = (a.get("method") or "get").lower()
            self._current = Form(id=a.get("id"), action=a.get("action", ""), method=method)
            self.forms.append(self._current)
            return
        name = a.get("name")
        if (
            self._current is None
            or not name
            or tag not in ("input", "button", "select", "textarea")
        ):
            return
        kind = (a.get("type") or ("submit" if tag == "button" else "text")).lower()
        if kind == "submit":
            self._current.buttons.append((name, a.get("value", "")))
        elif kind in ("checkbox", "radio"):
            if "checked" in a:
                self._current.fields[name] = a.get("value", "on")
        else:
            self._current.fields[name] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        if tag == self._error_tag:
            self._error_tag = None

    def handle_data(self, data: str) -> None:
        if self._error_tag is not None and data.strip():
            self.errors.append(data.strip())


def parse(html: str) -> tuple[list[Form], list[str]]:
    """The forms of a page and the texts it shows as errors."""
    parser = _Parser()
    parser.feed(html)
    return parser.forms, parser.errors
