"""Reports: a JSON report that repeats, JUnit XML that validates, an HTML file that opens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xmlschema
from livekit import chromium
from playwright.sync_api import expect

from scenarios.reports.html import build_html
from scenarios.reports.json_report import build_report, without_wall_clock
from scenarios.reports.junit import build_junit
from scenarios.runner import run_all
from scenarios.validation import Scenario, load_scenario

XSD = Path(__file__).with_name("junit-10.xsd")
STORY = """\
name: {name}
seed: 7
steps:
  - inbox: {{name: box, sequence: [500, 200]}}
  - app: create_session
    with: {{patient_id: p1, return_url: "https://app.example/done"}}
    save: s
  - patient: connect
    session: ${{s.id}}
    source: summit-epic
    username: alice
  - patient: done
    session: ${{s.id}}
  - app: rotate_secret
    with: {{webhook_id: "${{box.webhook.id}}"}}
  - eventually:
      within: 10m
      expect:
        inbox: box
        webhooks: {{type: records.sync.completed, count: 2, attempt: 2}}
  - expect:
      app: get_session
      with: {{session_id: "${{s.id}}"}}
      json: {{status: {status}}}
"""


def scenarios(tmp_path: Path) -> list[Scenario]:
    good = tmp_path / "good.scenario.yaml"
    good.write_text(STORY.format(name="passes", status="complete"))
    bad = tmp_path / "bad.scenario.yaml"
    bad.write_text(STORY.format(name="fails", status="expired"))
    return [load_scenario(good), load_scenario(bad)]


def test_two_runs_with_one_seed_give_identical_json_reports(tmp_path: Path) -> None:
    first = build_report(run_all(scenarios(tmp_path)))
    second = build_report(run_all(scenarios(tmp_path)))
    assert [s["status"] for s in first["scenarios"]] == ["passed", "failed"]
    assert without_wall_clock(first) == without_wall_clock(second)
    assert first["scenarios"][0]["timeline"]


def test_reports_hold_no_secrets(tmp_path: Path) -> None:
    results = run_all(scenarios(tmp_path))
    raw = json.dumps([r.__dict__ for r in results], default=lambda o: o.__dict__)
    assert "whsec_" in raw and "/c/" in raw  # the run saw secrets and hosted links ...
    for text in (json.dumps(build_report(results)), build_junit(results), build_html(results)):
        # ... and no report repeats them
        assert "whsec_<redacted>" in text or "whsec_" not in text
        for secret in ("whsec_", "/c/", "mb_sk_"):
            for piece in text.split(secret)[1:]:
                assert piece.startswith("<redacted>") or piece.startswith("&lt;redacted&gt;")


def test_junit_validates_against_the_junit_xsd(tmp_path: Path) -> None:
    xml = build_junit(run_all(scenarios(tmp_path)))
    xmlschema.XMLSchema(str(XSD)).validate(xml)
    assert 'tests="2" failures="1" errors="0"' in xml
    assert '<failure message="status: expected equals' in xml
    assert "bad.scenario.yaml:42:" in xml or "bad.scenario.yaml:" in xml


@pytest.mark.browser
def test_html_report_opens_in_chromium_without_console_errors(tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(build_html(run_all(scenarios(tmp_path))))
    errors: list[str] = []
    requests: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        expect(page.locator("section.scenario")).to_have_count(2)
        expect(page.locator("svg.timeline")).to_have_count(2)
        assert page.locator("svg.timeline circle.mark").count() >= 4
        page.click("button[data-show=failed]")
        expect(page.locator("section.scenario:visible")).to_have_count(1)
    assert errors == []
    assert all(url.startswith("file://") for url in requests)
