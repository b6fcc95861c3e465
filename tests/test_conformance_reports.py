"""Reports of a conformance run: JUnit (validated), JSON shape, a self-contained HTML page."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import xmlschema

from conformance import registry, reports
from conformance.results import Exchange, Outcome, Result
from conformance.runner import run
from conformance.target import in_process_target

XSD = Path(__file__).with_name("junit-10.xsd")
NASTY = "<script>alert('x')</script> & \"quoted\" <img src=https://evil.example/x.png>"


@pytest.fixture(scope="module")
def results() -> list[Result]:
    picked = registry.select(registry.collect(), ["WH-017", "WH-001", "SESS-011", "ERR-001"])
    got = run(picked, in_process_target(), seed=3)
    assert [str(r.outcome) for r in got] == ["pass"] * 4
    return [*got, *_made_up()]


def _made_up() -> list[Result]:
    exchange = Exchange(
        method="GET",
        url="http://sim.test/patients?q=" + NASTY,
        request_headers={"X-Evil": NASTY},
        request_body=None,
        status=500,
        response_headers={"Content-Type": "text/html"},
        response_body=NASTY,
        elapsed_ms=1.0,
        virtual_time="2030-01-01T00:00:00.000Z",
    )
    return [
        Result("ZZ-001", "made", "fails " + NASTY, "§9", Outcome.FAIL, NASTY, [exchange]),
        Result("ZZ-002", "made", "crashes", "§9", Outcome.ERROR, "Traceback: boom"),
        Result("ZZ-003", "made", "skips", "§9", Outcome.SKIP, "no control plane"),
        Result("ZZ-004", "made", "omitted", "§9", Outcome.OMIT, "not here"),
    ]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def test_junit_is_valid_and_counts(tmp_path: Path, results: list[Result]) -> None:
    path = tmp_path / "junit.xml"
    reports.write_junit(path, "connect-conformance", results)
    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(str(path))
    doc = schema.to_dict(str(path))
    suite = doc["testsuite"][0] if isinstance(doc["testsuite"], list) else doc["testsuite"]
    assert (suite["@tests"], suite["@failures"], suite["@errors"], suite["@skipped"]) == (
        8,
        1,
        1,
        2,
    )


def test_json_shape(tmp_path: Path, results: list[Result]) -> None:
    path = tmp_path / "report.json"
    reports.write_json(path, "connect-conformance", results, {"seed": 3})
    body = json.loads(path.read_text())
    assert set(body) == {"suite", "meta", "summary", "results"}
    assert body["meta"] == {"seed": 3}
    assert body["summary"] == {"pass": 4, "fail": 1, "skip": 1, "error": 1, "omit": 1}
    first = body["results"][0]
    assert set(first) == {
        "id",
        "area",
        "requirement",
        "source",
        "outcome",
        "message",
        "exchanges",
        "duration_s",
        "artifacts",
    }
    assert first["exchanges"] and {"method", "url", "status", "virtual_time"} <= set(
        first["exchanges"][0]
    )
    assert re.search(r"whsec_[A-Za-z0-9]{8,}|mb_sk_[A-Za-z0-9_]{8,}", path.read_text()) is None


def test_html_is_self_contained_and_escaped(tmp_path: Path, results: list[Result]) -> None:
    path = tmp_path / "report.html"
    reports.write_html(path, "connect-conformance", results, {"target": NASTY})
    page = path.read_text(encoding="utf-8")
    parsed = _parse(page)
    names = [tag for tag, _ in parsed.tags]
    assert "script" not in names and "img" not in names and "link" not in names
    assert "iframe" not in names
    for _, attrs in parsed.tags:
        for key in ("src", "href", "action"):
            assert key not in attrs, attrs
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "@import" not in page and "url(" not in page
    assert NASTY in "".join(parsed.text)  # every value is shown, as text


def test_html_lists_every_result_with_its_exchanges(tmp_path: Path, results: list[Result]) -> None:
    page = reports.as_html("connect-conformance", results, {})
    parsed = _parse(page)
    ids = [attrs.get("id") for tag, attrs in parsed.tags if tag == "details" and "id" in attrs]
    assert ids == [r.id for r in results]
    details = sum(1 for tag, _ in parsed.tags if tag == "details")
    assert details == len(results) + sum(len(r.exchanges) for r in results)
    text = "".join(parsed.text)
    for result in results:
        assert result.requirement in text and result.source in text
    assert "Summary" in text and "Results (8)" in text


def test_timeline_orders_what_was_seen_on_the_virtual_clock(results: list[Result]) -> None:
    schedule = next(r for r in results if r.id == "WH-017")
    events = reports.timeline(schedule)
    arrivals = [(at, what) for at, what in events if what.startswith("inbox received")]
    assert len(arrivals) == 9
    attempts = [what for _, what in events if what.startswith("attempt ")]
    assert [a.split()[1] for a in attempts] == [str(n) for n in range(1, 10)]
    assert [at for at, _ in events] == sorted(at for at, _ in events)
    expiry = next(r for r in results if r.id == "SESS-011")
    statuses = [what.rsplit(" ", 1)[1] for _, what in reports.timeline(expiry)]
    assert statuses == ["open", "open", "expired", "expired"]


def test_timeline_from_attempt_logs_and_out_of_order_exchanges() -> None:
    def exchange(url: str, body: object, at: str | None) -> Exchange:
        return Exchange("GET", url, {}, None, 200, {}, json.dumps(body), 1.0, at)

    attempts = {
        "data": [
            {
                "resource_type": "webhook_attempt",
                "attempt": 2,
                "event_id": "evt_1",
                "trigger": "automatic",
                "attempted_at": "2030-01-01T00:01:00.000Z",
                "status_code": 500,
            },
            {
                "resource_type": "webhook_attempt",
                "attempt": 1,
                "event_id": "evt_1",
                "trigger": "automatic",
                "attempted_at": "2030-01-01T00:00:00.000Z",
                "status_code": 500,
            },
        ]
    }
    session = {"id": "ps_1", "resource_type": "patient_session", "status": "open"}
    result = Result(
        "X-1",
        "x",
        "r",
        "§1",
        Outcome.PASS,
        exchanges=[
            exchange("http://t/_sim/webhooks/wh_1/attempts", attempts, None),
            exchange("http://t/patient-sessions/ps_1", session, "2030-01-01T00:00:30.000Z"),
            exchange("http://t/not-json", "<html>", None),
        ],
    )
    assert reports.timeline(result) == [
        ("2030-01-01T00:00:00.000Z", "attempt 1 of evt_1 (automatic) → 500"),
        ("2030-01-01T00:00:30.000Z", "session ps_1 open"),
        ("2030-01-01T00:01:00.000Z", "attempt 2 of evt_1 (automatic) → 500"),
    ]
