"""Reading HTML forms the way a browser without JavaScript does.

One parser for everything that drives the hosted pages and the portals'
pages over HTTP: each `<form>` with its action, method, fields (hidden and
text inputs, checked boxes) and submit buttons, plus the text of elements
whose class mentions `error` (what a page shows after a failed submit).

A page of plain markup is read by `_quick` with html.parser's own patterns and
rules; anything else by html.parser itself. Both feed the same `_Reader`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from html.parser import (
    HTMLParser,
    attrfind_tolerant,
    endtagfind,
    locatestarttagend_tolerant,
    tagfind_tolerant,
)

# The tags whose attributes are a form's fields or buttons.
_FIELD_TAGS = frozenset({"input", "button", "select", "textarea"})


@dataclass
class Form:
    id: str | None
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)


class _Reader:
    """What a page's tags and texts mean here: its forms and the texts shown as errors."""

    def __init__(self) -> None:
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
        if self._current is None or not name or tag not in _FIELD_TAGS:
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


class _Parser(_Reader, HTMLParser):
    """`_Reader` fed by html.parser: the reading every page can be given."""

    def __init__(self) -> None:
        _Reader.__init__(self)
        HTMLParser.__init__(self, convert_charrefs=True)


def parse(html: str) -> tuple[list[Form], list[str]]:
    """The forms of a page and the texts it shows as errors.

    Read quickly (`_quick`) when the page holds only what that reading knows, else by
    html.parser; both hand `_Reader` the same tags and texts."""
    reader = _Reader()
    try:
        _quick(html, reader)
    except _Unusual:
        reader = _Parser()
        reader.feed(html)
    return reader.forms, reader.errors


class _Unusual(Exception):
    """Markup the quick reading leaves to html.parser."""


# html.parser's own patterns and rules, for the constructs the quick reading takes on
_TEXT_END = re.compile(r"[\s;]")
_COMMENT_END = re.compile(r"--\s*>")
_RAW_TEXT_END = {  # where html.parser's raw text mode ends (`set_cdata_mode`)
    tag: re.compile(rf"</\s*{tag}\s*>", re.I) for tag in HTMLParser.CDATA_CONTENT_ELEMENTS
}


def _quick(html: str, reader: _Reader) -> None:
    """Hand `reader` what html.parser's `feed` (no `close`) would, for a page made of
    text, start and end tags, comments, a doctype and `<script>`/`<style>` contents;
    anything else raises `_Unusual` before the caller relies on what was handed."""
    n = len(html)
    i = 0
    while i < n:
        j = html.find("<", i)
        if j < 0:  # text to the end, kept back if a character reference may be cut
            amp = html.rfind("&", max(i, n - 34))
            if amp >= 0 and not _TEXT_END.search(html, amp):
                return
            j = n
        if i < j:
            reader.handle_data(unescape(html[i:j]))
        if j == n:
            return
        after = html[j + 1 : j + 2]
        if after.isascii() and after.isalpha():
            i = _start_tag(html, j, reader)
        elif after == "/":
            end = endtagfind.match(html, j)
            if end is None:
                raise _Unusual
            reader.handle_endtag(end.group(1).lower())
            i = end.end()
        elif html.startswith("<!--", j):
            close = _COMMENT_END.search(html, j + 4)
            if close is None:
                raise _Unusual
            i = close.end()
        elif html[j : j + 9].lower() == "<!doctype":
            close_at = html.find(">", j + 9)
            if close_at < 0:
                raise _Unusual
            i = close_at + 1
        else:
            raise _Unusual


# A start tag of plain make (a name, attributes with quoted values or none): html.parser
# reads it as it is written. One `_Reader` makes nothing of (not a form's, no `error` or
# character reference in it) is passed over, but for the end a `/>` makes of it.
_PLAIN_TAG = re.compile(
    r"""<([a-zA-Z][a-zA-Z0-9-]*)(?:\s+[a-zA-Z_:][-a-zA-Z0-9_:.]*(?:\s*=\s*(?:"[^"]*"|'[^']*'))?)*"""
    r"\s*(/?)>"
)
_READ_TAGS = frozenset({"form", *_FIELD_TAGS, *HTMLParser.CDATA_CONTENT_ELEMENTS})


def _start_tag(html: str, i: int, reader: _Reader) -> int:
    """A whole start tag at `i` handed to `reader` (with the raw text after a `<script>`
    or `<style>` and its end tag); answers where reading goes on."""
    plain = _PLAIN_TAG.match(html, i)
    if plain is not None:
        tag, end = plain.group(1).lower(), plain.end()
        if tag not in _READ_TAGS and html.find("error", i, end) < 0 and html.find("&", i, end) < 0:
            if plain.group(2):
                reader.handle_endtag(tag)
            return end
    located = locatestarttagend_tolerant.match(html, i)
    assert located is not None  # it matches wherever `<` and a letter are
    j = located.end()
    if html.startswith(">", j):
        endpos = j + 1
    elif html.startswith("/>", j):
        endpos = j + 2
    else:
        raise _Unusual
    name = tagfind_tolerant.match(html, i + 1)
    assert name is not None
    tag = name.group(1).lower()
    k = name.end()
    attrs: list[tuple[str, str | None]] = []
    while k < endpos:
        found = attrfind_tolerant.match(html, k)
        if not found:
            break
        attr, rest, value = found.group(1, 2, 3)
        if not rest:
            value = None
        elif value[:1] == "'" == value[-1:] or value[:1] == '"' == value[-1:]:
            value = value[1:-1]
        if value:
            value = unescape(value)
        attrs.append((attr.lower(), value))
        k = found.end()
    rest_of_tag = html[k:endpos].strip()
    if rest_of_tag == "/>":
        reader.handle_starttag(tag, attrs)
        reader.handle_endtag(tag)
        return endpos
    if rest_of_tag != ">":
        raise _Unusual
    reader.handle_starttag(tag, attrs)
    raw_end = _RAW_TEXT_END.get(tag)
    if raw_end is None:
        return endpos
    close = raw_end.search(html, endpos)
    if close is None:
        raise _Unusual
    if close.start() > endpos:
        reader.handle_data(html[endpos : close.start()])
    reader.handle_endtag(tag)
    return close.end()
