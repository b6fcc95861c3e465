"""The headless browser's form reading: the quick reading agrees with html.parser's.

`forms.parse` reads a page quickly when it holds only text, plain tags, comments, a
doctype and style or script contents, and hands anything else to html.parser; either
way the forms and error texts must be what html.parser's reading finds.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core import forms
from simulator.testing import Sim

EPIC = "fhirsrc_01JGFJJZ00W9QAJQZQHWWQADWX"

FRAGMENTS = [
    '<form id="f" action="/a" method="POST">',
    "<form>",
    "<FORM ACTION='/b'>",
    "</form>",
    "</FORM >",
    '<input name="a" value="1">',
    '<input type="hidden" name="h" value="x&amp;y">',
    '<input type="checkbox" name="c" checked>',
    '<input type="radio" name="r" value="v" checked/>',
    "<INPUT NAME=\"U\" VALUE='q'>",
    "<input name=bare value=unquoted>",
    '<input name="n"/ >',
    '<input name="e" value="">',
    '<button name="decision" value="approve">Go</button>',
    "<button>",
    '<button type="button" name="b">',
    '<select name="s">',
    '<textarea name="t">',
    '<div class="error">',
    '<p class="field error">',
    '<span class="err&#111;r">',
    "<div class=error>",
    '<li class="errors">',
    "</div>",
    "</p>",
    "</span>",
    "</li>",
    "</ div>",
    "</div foo>",
    "<span/>",
    "<div/>",
    "<br/>",
    "<br>",
    '<img src="x.png" alt="a > b">',
    '<a href="?a=1&b=2">',
    '<a href="?a=1&amp;b=2">',
    "<style>p { color: red }</style>",
    "<style>a<b</style>",
    "<script>if (a < b) { x = '</p>' }</script>",
    "<STYLE>x</STYLE >",
    "<style>",
    "</style>",
    "<!-- <form> -->",
    "<!---->",
    "<!-- a -- >",
    "<!doctype html>",
    "<!DOCTYPE html>",
    "<?xml version='1.0'?>",
    "<![CDATA[x]]>",
    "<!bogus>",
    "text",
    "  spaced  ",
    "Error: try again",
    "a < b",
    "a &amp; b",
    "&lt;",
    "&",
    "&am",
    "&#",
    "\n",
    "<",
    "</",
    "<a",
    '<a b="c"d="e">',
    "<a b=c/>",
    "<x-y z:w=\"1\" data-k='v'>",
    '<a\tb="c">',
    "<p =x>",
    '<a b="',
    "<a b='c>",
    "<a b = 'c' >",
    '<a b=="c">',
    "<A HREF='/x' CLASS='Error'>",
]


def _reference(html: str) -> tuple[list[forms.Form], list[str]]:
    parser = forms._Parser()
    parser.feed(html)
    return parser.forms, parser.errors


def _quick(html: str) -> tuple[list[forms.Form], list[str]] | None:
    reader = forms._Reader()
    try:
        forms._quick(html, reader)
    except forms._Unusual:
        return None
    return reader.forms, reader.errors


documents = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet="<>/=\"' &;#abcerorfm-!\n", max_size=8)),
    max_size=40,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(documents)
def test_the_quick_reading_finds_what_html_parser_finds(html: str) -> None:
    assert forms.parse(html) == _reference(html)
    quick = _quick(html)
    if quick is not None:
        assert quick == _reference(html)


@pytest.mark.parametrize(
    "html",
    [
        '<div class="error">Wrong <b>password</b></div><form id="login-form" action="/l"'
        ' method="post"><input name="username" value="a&amp;b"><button name="go">'
        "Sign in</button></form>",
        "<style>.error { color: red }</style><p class='error'>&lt;bad&gt;</p>",
        '<form action="/x"><input type="checkbox" name="c" value="1" checked/></form>',
    ],
)
def test_plain_pages_are_read_quickly_and_alike(html: str) -> None:
    quick = _quick(html)
    assert quick is not None
    assert quick == _reference(html)
    assert quick[0] or quick[1]


def test_unusual_markup_goes_to_html_parser() -> None:
    html = '<form action="/x"><input name="a" value="1"> 1 < 2 <?pi?></form>'
    assert _quick(html) is None
    assert forms.parse(html) == _reference(html)


def test_the_simulators_own_pages_are_read_quickly(sim: Sim, monkeypatch) -> None:
    pages: list[str] = []
    parse = forms.parse

    def spy(html: str):
        pages.append(html)
        return parse(html)

    monkeypatch.setattr(forms, "parse", spy)
    api, _ = sim.new_workspace(seed=3)
    session = api.post(
        "/patient-sessions", {"patient_id": "p1", "return_url": "https://app.example/r"}
    ).json
    connected = api.post(
        f"/_sim/patient-sessions/{session['id']}/connect", {"source": EPIC, "username": "alice"}
    ).json
    assert connected["connection"]["status"] == "active"
    api.post(f"/_sim/patient-sessions/{session['id']}/done")
    assert len(pages) >= 4  # the picker, the portal's login and consent, the completion
    for html in pages:
        assert _quick(html) == _reference(html)
