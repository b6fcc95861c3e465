"""Reports of a run: JSON, JUnit XML (one testcase per result) and a self-contained HTML page."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from conformance.results import Outcome, Result, summary


def as_json(suite: str, results: list[Result], meta: dict[str, Any] | None = None) -> str:
    body = {
        "suite": suite,
        "meta": meta or {},
        "summary": summary(results),
        "results": [r.as_dict() for r in results],
    }
    return json.dumps(body, indent=2, sort_keys=False)


def write_json(
    path: str | Path, suite: str, results: list[Result], meta: dict[str, Any] | None = None
) -> None:
    Path(path).write_text(as_json(suite, results, meta))


def as_junit(suite: str, results: list[Result]) -> str:
    counts = summary(results)
    root = ET.Element("testsuites", name=suite)
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(results)),
        failures=str(counts["fail"]),
        errors=str(counts["error"]),
        skipped=str(counts["skip"] + counts["omit"]),
        time=f"{sum(r.duration_s for r in results):.3f}",
    )
    for result in results:
        case = ET.SubElement(
            node,
            "testcase",
            classname=f"{suite}.{result.area}",
            name=f"{result.id} {result.requirement}",
            time=f"{result.duration_s:.3f}",
        )
        if result.outcome is Outcome.FAIL:
            ET.SubElement(case, "failure", message=result.message[:500]).text = result.message
        elif result.outcome is Outcome.ERROR:
            ET.SubElement(case, "error", message=result.message[:500]).text = result.message
        elif result.outcome in (Outcome.SKIP, Outcome.OMIT):
            ET.SubElement(case, "skipped", message=result.message[:500])
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def write_junit(path: str | Path, suite: str, results: list[Result]) -> None:
    Path(path).write_text(as_junit(suite, results))


# -- HTML ----------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2433;background:#fafbfc}
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d6dbe3;padding:.25rem .6rem;
text-align:left;vertical-align:top}th{background:#eef1f5}
.badge{display:inline-block;min-width:3.2rem;text-align:center;border-radius:.25rem;
padding:0 .35rem;font-weight:600;color:#fff}
.pass{background:#2e7d32}.fail{background:#c62828}.error{background:#6a1b9a}
.skip{background:#757575}.omit{background:#9e9e9e}
details{background:#fff;border:1px solid #d6dbe3;border-radius:.3rem;margin:.35rem 0;
padding:.3rem .6rem}summary{cursor:pointer}
pre{white-space:pre-wrap;word-break:break-all;background:#f3f5f8;padding:.4rem;
border-radius:.25rem;margin:.25rem 0;max-height:30rem;overflow:auto}
.muted{color:#5f6b7a}.timeline td:first-child{white-space:nowrap;font-family:monospace}
"""
_SESSION_TYPES = frozenset({"patient_session", "session", "patient_flow"})


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _parsed(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return None


def timeline(result: Result) -> list[tuple[str, str]]:
    """What the exchanges show happening on the virtual clock, in virtual-time order.

    Session statuses seen in answers (at the virtual time of the request), webhook
    attempts from `/_sim/webhooks/{id}/attempts` and deliveries an inbox received.
    """
    seen: set[tuple[str, str]] = set()
    for exchange in result.exchanges:
        body = _parsed(exchange.response_body)
        at = exchange.virtual_time
        if exchange.url.split("?")[0].endswith("/_sim/clock") and isinstance(body, dict):
            at = body.get("now") or at
        for item in _objects(body):
            kind = item.get("resource_type")
            if kind in _SESSION_TYPES and item.get("status") and at:
                seen.add((at, f"session {item.get('id')} {item['status']}"))
            elif kind == "webhook_attempt" and item.get("attempted_at"):
                what = (
                    f"attempt {item.get('attempt')} of {item.get('event_id')} "
                    f"({item.get('trigger')}) → {item.get('status_code') or item.get('error')}"
                )
                seen.add((item["attempted_at"], what))
            elif kind == "inbox_request" and item.get("received_at"):
                what = (
                    f"inbox received {item.get('event_type')} {item.get('event_id')}"
                    f" → answered {item.get('response_status')}"
                )
                seen.add((item["received_at"], what))
    return sorted(seen)


def _objects(body: Any) -> list[dict[str, Any]]:
    """The body's objects worth placing: itself, list items and an embedded `session`."""
    if not isinstance(body, dict):
        return []
    found = [body]
    if isinstance(body.get("session"), dict):
        found.append(body["session"])
    for key in ("data", "received"):
        items = body.get(key)
        if isinstance(items, list):
            found.extend(item for item in items if isinstance(item, dict))
    return found


def _exchange_html(index: int, exchange: Any) -> str:
    def block(title: str, headers: dict[str, str], body: Any) -> str:
        lines = "\n".join(f"{k}: {v}" for k, v in headers.items())
        shown = body if isinstance(body, str) else json.dumps(body, indent=2)
        pretty = _parsed(shown)
        if pretty is not None and not isinstance(pretty, str):
            shown = json.dumps(pretty, indent=2, ensure_ascii=False)
        return f"<p class='muted'>{_e(title)}</p><pre>{_e(lines)}</pre>" + (
            f"<pre>{_e(shown)}</pre>" if body not in (None, "") else ""
        )

    at = f" · virtual {exchange.virtual_time}" if exchange.virtual_time else ""
    return (
        f"<details><summary>{index}. {_e(exchange.method)} {_e(exchange.url)} → "
        f"<b>{_e(exchange.status)}</b> <span class='muted'>{_e(exchange.elapsed_ms)} ms"
        f"{_e(at)}</span></summary>"
        + block("request", exchange.request_headers, exchange.request_body)
        + block("response", exchange.response_headers, exchange.response_body)
        + "</details>"
    )


def _result_html(result: Result) -> str:
    outcome = str(result.outcome)
    events = timeline(result)
    parts = [
        f"<details id='{_e(result.id)}'{' open' if result.failed else ''}><summary>"
        f"<span class='badge {_e(outcome)}'>{_e(outcome)}</span> <b>{_e(result.id)}</b> "
        f"{_e(result.requirement)} <span class='muted'>{_e(result.source)} · "
        f"{result.duration_s:.3f} s · {len(result.exchanges)} requests</span></summary>"
    ]
    if result.message:
        parts.append(f"<pre>{_e(result.message)}</pre>")
    if events:
        rows = "".join(f"<tr><td>{_e(at)}</td><td>{_e(what)}</td></tr>" for at, what in events)
        parts.append(
            "<p class='muted'>virtual-time timeline</p>"
            f"<table class='timeline'><tr><th>virtual time</th><th>seen</th></tr>{rows}</table>"
        )
    for name, value in result.artifacts.items():
        parts.append(f"<p class='muted'>{_e(name)}</p><pre>{_e(value)}</pre>")
    parts.extend(_exchange_html(i, x) for i, x in enumerate(result.exchanges, 1))
    parts.append("</details>")
    return "".join(parts)


def as_html(suite: str, results: list[Result], meta: dict[str, Any] | None = None) -> str:
    """One self-contained page: inline CSS, no scripts or outside fetches, all values escaped."""
    counts = summary(results)
    meta_rows = "".join(
        f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in (meta or {}).items()
    )
    count_cells = "".join(
        f"<td><span class='badge {_e(k)}'>{_e(k)}</span> {v}</td>" for k, v in counts.items()
    )
    areas: dict[str, dict[str, int]] = {}
    for result in results:
        row = areas.setdefault(result.area, {str(o): 0 for o in Outcome})
        row[str(result.outcome)] += 1
    area_rows = "".join(
        f"<tr><td>{_e(area)}</td>" + "".join(f"<td>{n}</td>" for n in row.values()) + "</tr>"
        for area, row in sorted(areas.items())
    )
    heads = "".join(f"<th>{_e(o)}</th>" for o in Outcome)
    body = "".join(_result_html(r) for r in results)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(suite)} report</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(suite)}</h1><table>{meta_rows}</table>"
        f"<h2>Summary</h2><table><tr>{count_cells}</tr></table>"
        f"<table><tr><th>area</th>{heads}</tr>{area_rows}</table>"
        f"<h2>Results ({len(results)})</h2>{body}</body></html>"
    )


def write_html(
    path: str | Path, suite: str, results: list[Result], meta: dict[str, Any] | None = None
) -> None:
    Path(path).write_text(as_html(suite, results, meta), encoding="utf-8")
