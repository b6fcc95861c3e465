"""The query-string helper answers what `urllib.parse.urlencode` answers."""

from __future__ import annotations

import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.query import urlencode

_TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="AZaz09_.-~", max_size=12),  # the values quoted as they are
    st.sampled_from(["ge2030-01-01T00:00:00Z", "a b", "a+b", "é", "%41", "\n", "x,y", ""]),
)
_VALUES = st.one_of(_TEXT, st.integers(-(10**6), 10**6))


@settings(max_examples=1500, deadline=None)
@given(pairs=st.lists(st.tuples(_TEXT, _VALUES), max_size=5))
def test_the_query_is_the_one_urlencode_makes(pairs: list[tuple[str, object]]) -> None:
    assert urlencode(pairs) == urllib.parse.urlencode(pairs)
    assert urlencode(dict(pairs)) == urllib.parse.urlencode(dict(pairs))


def test_only_what_needs_quoting_is_quoted() -> None:
    assert urlencode({"patient": "erX-1.a_b~", "_count": 50}) == "patient=erX-1.a_b~&_count=50"
    assert urlencode([("_lastUpdated", "ge2030-01-01T00:00:00Z")]) == (
        "_lastUpdated=ge2030-01-01T00%3A00%3A00Z"
    )
    assert urlencode([("q", "a b&c=d")]) == "q=a+b%26c%3Dd"
