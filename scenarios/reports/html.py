"""One self-contained HTML file: steps, requests and responses, and a virtual-time timeline."""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from scenarios.reports.json_report import build_report
from scenarios.results import ScenarioResult

LANES = ("session", "connection", "webhook")
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px} h2{font-size:16px;margin:0}
.summary span{margin-right:16px}
section.scenario{border:1px solid #ccc;border-radius:6px;margin:16px 0;padding:12px}
.passed{color:#176f2c} .failed,.error{color:#b00020} .skipped{color:#888}
table{border-collapse:collapse;width:100%;margin-top:8px}
td,th{border-bottom:1px solid #eee;padding:4px 6px;text-align:left;vertical-align:top}
pre{background:#f6f6f6;padding:8px;overflow:auto;max-height:320px;margin:4px 0}
.failure pre{background:#fff0f0}
svg.timeline{width:100%;height:110px;background:#fafafa;border:1px solid #eee}
svg text{font-size:11px}
button{margin:4px 4px 0 0}
"""
_JS = """
document.addEventListener('DOMContentLoaded', function () {
  var buttons = document.querySelectorAll('button[data-show]');
  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      var want = b.getAttribute('data-show');
      document.querySelectorAll('section.scenario').forEach(function (s) {
        s.hidden = want !== 'all' && s.getAttribute('data-status') !== want;
      });
    });
  });
});
"""


def _ms(instant: str | None) -> int:
    if not instant:
        return 0
    return int(datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp() * 1000)


def _timeline_svg(item: dict[str, Any]) -> str:
    entries = item["timeline"]
    if not entries:
        return "<p>No events.</p>"
    t0 = min(_ms(item["virtual_start"]), *(_ms(e["at"]) for e in entries))
    t1 = max(_ms(item["virtual_end"]), *(_ms(e["at"]) for e in entries))
    span = max(t1 - t0, 1)
    parts = [
        '<svg class="timeline" viewBox="0 0 1000 110" preserveAspectRatio="none"'
        ' role="img" aria-label="virtual-time timeline">'
    ]
    for row, lane in enumerate(LANES):
        y = 20 + row * 30
        parts.append(f'<text x="2" y="{y + 4}">{lane}</text>')
        parts.append(f'<line x1="80" y1="{y}" x2="990" y2="{y}" stroke="#ddd"/>')
    for e in entries:
        row = LANES.index(e["lane"]) if e["lane"] in LANES else 0
        x = 80 + 910 * (_ms(e["at"]) - t0) / span
        color = "#176f2c"
        if e.get("succeeded") is False or str(e.get("state")) in (
            "failed",
            "expired",
            "refresh_failed",
            "disconnected",
            "sync.failed",
        ):
            color = "#b00020"
        label = escape(f"{e['at']} {e['event']} {e.get('object_id') or ''} {e.get('state')}")
        parts.append(
            f'<circle class="mark" cx="{x:.1f}" cy="{20 + row * 30}" r="5" fill="{color}">'
            f"<title>{label}</title></circle>"
        )
    parts.append(f'<text x="80" y="105">{escape(item["virtual_start"] or "")}</text>')
    parts.append(
        f'<text x="990" y="105" text-anchor="end">{escape(item["virtual_end"] or "")}</text>'
    )
    parts.append("</svg>")
    rows = "".join(
        f"<tr><td>{escape(e['at'])}</td><td>{escape(e['lane'])}</td>"
        f"<td>{escape(str(e.get('object_id') or ''))}</td><td>{escape(e['event'])}</td>"
        f"<td>{escape(str(e.get('state')))}</td></tr>"
        for e in entries
    )
    return (
        "".join(parts)
        + '<details><summary>Timeline entries</summary><table class="timeline-table">'
        + "<tr><th>virtual time</th><th>lane</th><th>object</th><th>event</th><th>state</th></tr>"
        + rows
        + "</table></details>"
    )


def _pretty(value: Any) -> str:
    return escape(json.dumps(value, indent=2, sort_keys=True))


def _scenario_html(item: dict[str, Any]) -> str:
    status = item["status"]
    out = [
        f'<section class="scenario" data-status="{escape(status)}">',
        f'<h2><span class="{escape(status)}">{escape(status.upper())}</span> '
        f"{escape(item['name'])}</h2>",
        f"<p>{escape(item['file'])} · seed {item['seed']} · virtual "
        f"{escape(item['virtual_start'] or '')} → {escape(item['virtual_end'] or '')} · "
        f"{item['wall_ms']} ms wall</p>",
    ]
    if item["failure"]:
        out.append(f'<div class="failure"><pre>{escape(item["failure"]["text"])}</pre></div>')
    out.append("<h3>Timeline</h3>" + _timeline_svg(item))
    out.append(
        "<table><tr><th>#</th><th>line</th><th>step</th><th>status</th>"
        "<th>virtual time</th><th>requests</th></tr>"
    )
    for s in item["steps"]:
        reqs = "".join(
            f"<details><summary>{escape(r['method'])} {escape(r['path'])} → {r['status']}"
            f"</summary><pre>{_pretty({'request': r['body'], 'query': r['query']})}</pre>"
            f"<pre>{_pretty(r['response'])}</pre></details>"
            for r in s["requests"]
        )
        msg = f"<div>{escape(s['message'])}</div>" if s.get("message") else ""
        out.append(
            f"<tr><td>{s['index'] + 1}</td><td>{s['line']}</td><td>{escape(s['label'])}{msg}</td>"
            f'<td class="{escape(s["status"])}">{escape(s["status"])}</td>'
            f"<td>{escape(s['virtual_time'] or '')}</td><td>{reqs}</td></tr>"
        )
    out.append("</table></section>")
    return "".join(out)


def build_html(results: list[ScenarioResult]) -> str:
    report = build_report(results)
    s = report["summary"]
    body = "".join(_scenario_html(item) for item in report["scenarios"])
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        "<title>connect-sim scenarios</title>"
        f"<style>{_CSS}</style><script>{_JS}</script></head><body>"
        "<h1>connect-sim scenarios</h1>"
        f'<p class="summary"><span>{s["total"]} scenarios</span>'
        f'<span class="passed">{s["passed"]} passed</span>'
        f'<span class="failed">{s["failed"]} failed</span>'
        f'<span class="error">{s["errors"]} errors</span></p>'
        '<p><button data-show="all">all</button><button data-show="failed">failed</button>'
        '<button data-show="passed">passed</button></p>'
        f"{body}</body></html>\n"
    )


def write_html(results: list[ScenarioResult], path: str) -> None:
    Path(path).write_text(build_html(results), encoding="utf-8")
