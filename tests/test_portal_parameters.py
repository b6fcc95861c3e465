"""The portals read URL-encoded parameters as `parse_qsl` (and so Werkzeug) reads them."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from portal_mocks.web.common import _parameters

_PIECES = st.sampled_from(
    ["a", "b", "_count", "=", "&", "&&", "==", "%", "%41", "%zz", "%C3%A9", "%FF", "+", " ", "é"]
    + ["ge2030-01-01T00:00:00Z", "x;y", ";", "refresh_token", "eyJ.a_b-c~"]
)


def _by_parse_qsl(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for key, value in parse_qsl(text, keep_blank_values=True, errors="werkzeug.url_quote"):
        values.setdefault(key, []).append(value)
    return values


@settings(max_examples=2000, deadline=None)
@given(pieces=st.lists(_PIECES, max_size=10))
def test_parameters_are_what_parse_qsl_reads(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _parameters(text) == _by_parse_qsl(text)


def test_a_plain_form_keeps_its_order_its_blanks_and_its_repeats() -> None:
    text = "grant_type=refresh_token&&refresh_token=a=b&scope=&x&x=2&=v"
    assert _parameters(text) == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["a=b"],
        "scope": [""],
        "x": ["", "2"],
        "": ["v"],
    }
