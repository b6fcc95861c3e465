"""The conformance checks: stable ids, their metadata, and a full run against the simulator."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from conformance import registry
from conformance.checks import support
from conformance.cli import markdown_table
from conformance.http import WsgiTransport
from conformance.results import CheckFailed, Outcome, Result
from conformance.runner import run
from conformance.target import Target, in_process_target
from simulator.domain.webhooks.signature import sign
from simulator.testing import DEFAULT_TEST_KEY, Sim

PREFIXES = {
    "SESS": "sessions",
    "CONN": "connections",
    "PAT": "patients",
    "CAT": "catalog",
    "REC": "records",
    "WH": "webhooks",
    "ERR": "errors",
    "PAGE": "pagination",
    "VER": "versions",
}
CHECKS_DIR = Path(__file__).parent.parent / "conformance" / "checks"
HELPERS = {"__init__", "support"}
SECRET = re.compile(r"whsec_[A-Za-z0-9]{8,}|mb_sk_[A-Za-z0-9_]{8,}")


@pytest.fixture(scope="module")
def all_results() -> list[Result]:
    return run(registry.collect(), in_process_target(), seed=7)


def test_ids_are_stable_area_prefixed_and_unique() -> None:
    checks = registry.collect()
    ids = [c.id for c in checks]
    assert len(ids) == len(set(ids))
    for item in checks:
        prefix, _, number = item.id.partition("-")
        assert prefix in PREFIXES and re.fullmatch(r"\d{3}", number), item.id
        assert item.area == PREFIXES[prefix], item.id
    for prefix in PREFIXES:
        numbers = sorted(int(c.id.partition("-")[2]) for c in checks if c.id.startswith(prefix))
        assert numbers == list(range(1, len(numbers) + 1)), f"{prefix} ids have gaps"


def test_every_check_has_a_one_line_requirement_and_a_section() -> None:
    for item in registry.collect():
        assert item.requirement.strip() and "\n" not in item.requirement, item.id
        assert len(item.requirement) <= 130, item.id
        assert re.fullmatch(r"§\d+(\.\d+)?", item.source), (item.id, item.source)


def test_every_check_module_is_listed() -> None:
    modules = {p.stem for p in CHECKS_DIR.glob("*.py")} - HELPERS
    listed = {name.rpartition(".")[2] for name in registry.CHECK_MODULES}
    assert modules == listed


def test_every_area_has_checks() -> None:
    areas = {c.area for c in registry.collect()}
    assert areas == set(PREFIXES.values())


def test_every_check_passes_against_the_simulator(all_results: list[Result]) -> None:
    bad = [(r.id, str(r.outcome), r.message[:200]) for r in all_results if r.outcome != "pass"]
    assert bad == []
    assert len(all_results) == len(registry.collect())


def test_results_carry_the_exchanges_behind_them(all_results: list[Result]) -> None:
    by_id = {r.id: r for r in all_results}
    expiry = by_id["SESS-011"]
    assert any(x.url.endswith("/_sim/clock/set") for x in expiry.exchanges)
    assert expiry.exchanges[0].url.endswith("/_sim/clock")
    assert all(x.virtual_time for x in expiry.exchanges[1:])
    assert by_id["ERR-001"].exchanges[-1].status == 401


def test_no_check_leaks_a_secret_into_its_exchanges(all_results: list[Result]) -> None:
    for result in all_results:
        for exchange in result.exchanges:
            text = f"{exchange.request_headers} {exchange.response_body} {exchange.request_body}"
            assert SECRET.search(text) is None, result.id


def _without_control_plane(sim: Sim) -> Target:
    """The simulator with `/_sim` hidden: what a real sandbox looks like to the suite."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"].startswith("/_sim"):
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": {"type": "not_found_error", "code": "resource_not_found"}}']
        return sim.wsgi(environ, start_response)

    return Target(sim.base_url, WsgiTransport(app), DEFAULT_TEST_KEY, label="no /_sim")


def test_without_a_control_plane_checks_pass_or_skip_and_clean_up() -> None:
    sim = Sim()
    results = run(registry.collect(), _without_control_plane(sim))
    outcomes = {str(r.outcome) for r in results}
    assert outcomes == {"pass", "skip"}, [(r.id, r.message) for r in results if r.failed]
    needing = {c.id for c in registry.collect() if c.needs_control}
    skipped = {r.id: r.message for r in results if r.outcome is Outcome.SKIP}
    assert needing <= set(skipped)
    assert all("/_sim" in message for message in skipped.values())
    assert sim.api().get("/webhooks", limit=100).json["data"] == []


def test_without_a_control_plane_or_a_key_every_check_skips() -> None:
    sim = Sim()
    target = _without_control_plane(sim)
    target.api_key = None
    results = run(registry.select(registry.collect(), ["PAT-*"]), target)
    assert {str(r.outcome) for r in results} == {"skip"}
    assert all("--api-key" in r.message for r in results)


def test_select_by_id_area_and_glob() -> None:
    checks = registry.collect()
    assert [c.id for c in registry.select(checks, ["SESS-001"])] == ["SESS-001"]
    records = registry.select(checks, ["records"])
    assert records and all(c.area == "records" for c in records)
    assert all(c.id.startswith("WH-") for c in registry.select(checks, ["wh-*"]))
    rest = registry.select(checks, [], ["webhooks", "ERR-*"])
    assert not any(c.area in ("webhooks", "errors") for c in rest)


def test_the_suites_hmac_matches_the_simulators_signer() -> None:
    body = b'{"id":"evt_1","object":"event","data":{"object":{"x":"\xc3\xa9"}}}'
    secret = "whsec_" + "ab" * 20
    assert support.expected_signature(secret, 1_700_000_000, body) == sign(
        body, secret, 1_700_000_000
    )
    manual = hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert support.expected_signature(secret, 1_700_000_000, body) == manual


def test_signed_with_checks_the_raw_body() -> None:
    body = '{"a": 1,"b":2}'
    secret = "whsec_test"
    header = f"t=5,v1={sign(body, secret, 5)}"
    request = {"headers": {"medblocks-signature": header}, "body": body}
    assert support.signed_with(secret, request)
    assert not support.signed_with("whsec_other", request)
    assert not support.signed_with(secret, {**request, "body": '{"a":1,"b":2}'})
    assert not support.signed_with(secret, {"headers": {}, "body": body})


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=5"])
def test_a_malformed_signature_header_fails_the_check(header: str) -> None:
    with pytest.raises(CheckFailed):
        support.parse_signature(header)


def test_times_round_trip() -> None:
    assert support.iso(support.ms("2026-04-25T14:30:00.123Z")) == "2026-04-25T14:30:00.123Z"
    assert support.ms("2026-04-25T15:00:00.000Z") - support.ms("2026-04-25T14:30:00.000Z") == (
        1800_000
    )


def test_the_guide_lists_every_check_as_list_does() -> None:
    guide = (Path(__file__).parent.parent / "docs" / "conformance.md").read_text()
    assert guide.rstrip().endswith(markdown_table(registry.collect()).strip())
    rows = re.findall(r"^\| ([A-Z]+-\d{3}) \| (.+?) \| (§[\d.]+) \| (yes)? \|$", guide, re.M)
    documented = [(i, req.replace("\\*", "*"), src, bool(yes)) for i, req, src, yes in rows]
    assert documented == [
        (c.id, c.requirement, c.source, c.needs_control) for c in registry.collect()
    ]
