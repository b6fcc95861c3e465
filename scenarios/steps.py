"""What each step kind does, over the simulator's HTTP API only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scenarios.client import Response, SimClient
from scenarios.durations import parse_duration
from scenarios.loader import DataPath
from scenarios.matchers import MISSING, describe, is_matcher, matches, show
from scenarios.operations import API_FAULTS, OPERATIONS
from scenarios.references import ReferenceError_, get_path, parse_path, resolve

DEFAULT_IDLE_S = 7 * 86400


class StepFailed(Exception):
    """An expectation did not hold."""

    def __init__(
        self,
        message: str,
        *,
        path: DataPath = (),
        expected: str | None = None,
        seen: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.expected = expected
        self.seen = seen


class StepError(Exception):
    """The step could not be carried out (not an expectation)."""

    def __init__(self, message: str, path: DataPath = ()) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass
class Mismatch:
    path: DataPath
    what: str
    expected: str
    seen: str


@dataclass
class Context:
    """Everything a running scenario knows: the client, saved values, the catalog."""

    client: SimClient
    saved: dict[str, Any] = field(default_factory=dict)
    responses: dict[str, Response] = field(default_factory=dict)
    last: Response | None = None
    sources: dict[str, str] = field(default_factory=dict)
    portals: dict[str, str] = field(default_factory=dict)  # fhirsrc id -> slug
    source_ids: dict[str, str] = field(default_factory=dict)  # slug/name/type/id -> id
    inboxes: dict[str, str] = field(default_factory=dict)  # name -> inbox id
    endpoints: list[str] = field(default_factory=list)

    def lookup(self, name: str) -> Any:
        if name == "now":
            return self.client.now()
        if name == "sources":
            return self.sources
        if name == "last":
            return self.last.json if self.last else None
        if name in self.saved:
            return self.saved[name]
        raise ReferenceError_(f"${{{name}}} is not saved yet")

    def resolve(self, value: Any, path: DataPath = ()) -> Any:
        try:
            return resolve(value, self.lookup)
        except ReferenceError_ as exc:
            raise StepError(str(exc), path) from None

    def save(self, name: str | None, resp: Response | None, value: Any = None) -> None:
        if name:
            self.saved[name] = value if value is not None else (resp.json if resp else None)
            if resp is not None:
                self.responses[name] = resp

    def source_id(self, text: str, path: DataPath) -> str:
        key = str(text).strip()
        found = self.source_ids.get(key) or self.source_ids.get(key.lower())
        if found is None:
            known = ", ".join(sorted(self.portals.values()))
            raise StepError(f"no source '{text}' (use a portal slug: {known})", path)
        return found

    def portal_slug(self, text: str, path: DataPath) -> str:
        return self.portals[self.source_id(text, path)]


def load_catalog(ctx: Context) -> None:
    """Sources by slug, name, vendor type and id (the `sources` reference)."""
    portals = ctx.client.ok("GET", "/_sim/portals", record=False)["data"]
    for portal in portals:
        ctx.portals[portal["connection_id"]] = portal["slug"]
        ctx.sources[portal["slug"]] = portal["connection_id"]
    listed = ctx.client.ok("GET", "/connections", query={"limit": 100}, record=False)["data"]
    for src in listed:
        for key in (src["id"], src["name"], src["name"].lower(), src.get("type") or ""):
            if key:
                ctx.source_ids.setdefault(key, src["id"])
    for slug, sid in ctx.sources.items():
        ctx.source_ids[slug] = sid


# -- calls --------------------------------------------------------------------------


def call_operation(ctx: Context, op_name: str, args: dict[str, Any], path: DataPath) -> Response:
    op = OPERATIONS[op_name]
    args = dict(args)
    url = op.path
    for param in op.path_params:
        if param not in args:
            raise StepError(f"{op_name} needs '{param}' in with", (*path, "with"))
        url = url.replace("{" + param + "}", str(args.pop(param)))
    if op.method in ("GET", "DELETE"):
        query = {k: _query_value(v) for k, v in args.items()} or None
        return ctx.client.call(op.method, url, query=query)
    return ctx.client.call(op.method, url, args if args or op.method != "POST" else None)


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def call_request(ctx: Context, request: dict[str, Any]) -> Response:
    return ctx.client.call(
        request["method"],
        request["path"],
        request.get("json"),
        query=request.get("query"),
        headers=request.get("headers"),
    )


def _require_2xx(resp: Response, path: DataPath, what: str) -> None:
    if not 200 <= resp.status < 300:
        raise StepFailed(
            f"{what} answered {resp.status}",
            path=path,
            expected="a 2xx status (add expect.status to expect an error)",
            seen=f"{resp.status} {show(resp.json if resp.json is not None else resp.text[:300])}",
        )


def run_call_step(ctx: Context, step: dict[str, Any], base: DataPath, kind: str) -> None:
    if kind == "app":
        args = ctx.resolve(step.get("with", {}), (*base, "with"))
        resp = call_operation(ctx, step["app"], args, base)
        what = step["app"]
    else:
        req = ctx.resolve(step["request"], (*base, "request"))
        resp = call_request(ctx, req)
        what = f"{req['method']} {req['path']}"
    ctx.last = resp
    expect = step.get("expect")
    if expect is not None:
        check_or_fail(ctx, expect, (*base, "expect"), subject=resp)
    else:
        _require_2xx(resp, (*base, kind), what)
    ctx.save(step.get("save"), resp)


# -- the patient -----------------------------------------------------------------------


def _session_url(ctx: Context, session_id: str) -> str:
    prefix = {"sess_": "/sessions/", "pf_": "/patient-flows/"}
    base = next((p for k, p in prefix.items() if session_id.startswith(k)), "/patient-sessions/")
    return ctx.client.ok("GET", base + session_id, record=False)["url"]


def run_patient_step(ctx: Context, step: dict[str, Any], base: DataPath) -> None:
    action = step["patient"]
    args = ctx.resolve({k: v for k, v in step.items() if k not in ("expect",)}, base)
    session = str(args["session"])
    sim = f"/_sim/patient-sessions/{session}"
    if action == "open":
        resp = ctx.client.call("GET", _session_url(ctx, session))
    elif action in ("connect", "deny"):
        body: dict[str, Any] = {
            "username": args["username"],
            "password": args.get("password", "password"),
            "consent": "deny" if action == "deny" else args.get("consent", "approve"),
        }
        if "source" in args:
            body["source"] = ctx.source_id(args["source"], (*base, "source"))
        if "linger" in args:
            body["linger_seconds"] = parse_duration(args["linger"]) // 1000
        resp = ctx.client.call("POST", f"{sim}/connect", body)
    elif action == "done":
        resp = ctx.client.call("POST", f"{sim}/done")
    else:  # abandon
        body = {}
        if "source" in args:
            body["source"] = ctx.source_id(args["source"], (*base, "source"))
        resp = ctx.client.call("POST", f"{sim}/abandon", body)
    ctx.last = resp
    if step.get("expect") is not None:
        check_or_fail(ctx, step["expect"], (*base, "expect"), subject=resp)
    else:
        _require_2xx(resp, (*base, "patient"), f"patient {action}")
    ctx.save(step.get("save"), resp)


# -- clock, faults, inboxes, webhooks ----------------------------------------------


def run_clock_step(ctx: Context, step: dict[str, Any], base: DataPath) -> None:
    body = ctx.resolve(step["clock"], (*base, "clock"))
    if body == "run_until_idle" or (isinstance(body, dict) and "run_until_idle" in body):
        opts = body.get("run_until_idle") if isinstance(body, dict) else None
        limit = DEFAULT_IDLE_S
        if isinstance(opts, dict) and "max" in opts:
            limit = parse_duration(opts["max"]) / 1000
        resp = ctx.client.call("POST", "/_sim/clock/run-until-idle", {"max_seconds": limit})
    elif "advance" in body:
        seconds = parse_duration(body["advance"]) / 1000
        resp = ctx.client.call("POST", "/_sim/clock/advance", {"seconds": seconds})
    else:
        resp = ctx.client.call("POST", "/_sim/clock/set", {"now": str(body["set"])})
    _require_2xx(resp, (*base, "clock"), "the clock")
    ctx.save(step.get("save"), resp)


def run_fault_step(ctx: Context, step: dict[str, Any], base: DataPath) -> None:
    body = ctx.resolve(step["fault"], (*base, "fault"))
    where = (*base, "fault")
    if "clear" in body:
        target = str(body["clear"])
        slugs = sorted(set(ctx.portals.values()))
        if target in ("api", "all"):
            _require_2xx(ctx.client.call("DELETE", "/_sim/api-faults"), where, "clear")
        if target == "all":
            for slug in slugs:
                ctx.client.call("DELETE", f"/_sim/portals/{slug}/faults")
        elif target != "api":
            slug = ctx.portal_slug(target, where)
            _require_2xx(ctx.client.call("DELETE", f"/_sim/portals/{slug}/faults"), where, "clear")
        return
    name = str(body["inject"])
    if name in API_FAULTS:
        payload = {"status": API_FAULTS[name]}
        for key in ("times", "retry_after", "method", "path_prefix"):
            if key in body:
                payload[key] = body[key]
        resp = ctx.client.call("POST", "/_sim/api-faults", payload)
    elif name == "refresh_failure":
        if "connection" not in body:
            raise StepError("refresh_failure needs the connection id", where)
        resp = ctx.client.call("POST", f"/_sim/connections/{body['connection']}/refresh-failure")
    else:
        if "portal" not in body:
            raise StepError(f"fault {name} needs the portal (a slug such as summit-epic)", where)
        slug = ctx.portal_slug(str(body["portal"]), (*where, "portal"))
        payload = {"fault": name}
        for key in ("arg", "times", "probability", "at"):
            if key in body:
                payload[key] = str(body[key]) if key == "arg" else body[key]
        resp = ctx.client.call("POST", f"/_sim/portals/{slug}/faults", payload)
    _require_2xx(resp, where, f"fault {name}")
    ctx.save(step.get("save"), resp)


def run_inbox_step(ctx: Context, step: dict[str, Any], base: DataPath) -> None:
    body = ctx.resolve(step["inbox"], (*base, "inbox"))
    payload: dict[str, Any] = {}
    for key in ("status", "sequence", "secret"):
        if key in body:
            payload[key] = body[key]
    if "delay" in body:
        payload["delay_ms"] = parse_duration(body["delay"])
    resp = ctx.client.call("POST", "/_sim/inboxes", payload)
    _require_2xx(resp, (*base, "inbox"), "creating the inbox")
    saved = dict(resp.json)
    ctx.inboxes[body["name"]] = saved["id"]
    if body.get("register", True):
        hook = ctx.client.call(
            "POST", "/webhooks", {"url": saved["url"], "events": body.get("events", ["*"])}
        )
        _require_2xx(hook, (*base, "inbox"), "registering the endpoint")
        saved["webhook"] = hook.json
        ctx.endpoints.append(hook.json["id"])
    ctx.saved[body["name"]] = saved
    ctx.last = resp


def run_webhook_step(ctx: Context, step: dict[str, Any], base: DataPath) -> None:
    body = ctx.resolve(step["webhook"], (*base, "webhook"))
    if "fire" in body:
        payload = {"type": body["fire"]}
        for key in ("object_id", "patient_id", "connection_id", "data"):
            if key in body:
                payload[key] = body[key]
        resp = ctx.client.call("POST", "/_sim/events", payload)
        what = f"firing {body['fire']}"
    else:
        resp = ctx.client.call("PUT", f"/_sim/webhooks/{body['endpoint']}/chaos", body["chaos"])
        what = "webhook chaos"
    ctx.last = resp
    _require_2xx(resp, (*base, "webhook"), what)
    ctx.save(step.get("save"), resp)


# -- expectations ----------------------------------------------------------------------


def _value_at(data: Any, path_text: str) -> Any:
    try:
        return get_path(data, parse_path(path_text))
    except (KeyError, ValueError):
        return MISSING


def _check_value(
    out: list[Mismatch], path: DataPath, what: str, expected: Any, actual: Any
) -> None:
    if not matches(expected, actual):
        out.append(Mismatch(path, what, describe(expected), show(actual)))


def inbox_arrivals(ctx: Context, inbox_id: str) -> list[dict[str, Any]]:
    return ctx.client.ok("GET", f"/_sim/inboxes/{inbox_id}", record=False)["received"]


def _check_webhooks(
    out: list[Mismatch], spec: dict[str, Any], arrivals: list[dict[str, Any]], base: DataPath
) -> None:
    seen_count: dict[str, int] = {}
    numbered = []
    for arrival in arrivals:
        eid = arrival.get("event_id") or ""
        seen_count[eid] = seen_count.get(eid, 0) + 1
        numbered.append({**arrival, "attempt": seen_count[eid]})
    types = spec.get("type")
    if types is not None:
        wanted = [types] if isinstance(types, str) else list(types)
        numbered = [a for a in numbered if a.get("event_type") in wanted]
    got_types = [a.get("event_type") for a in numbered]
    if "count" in spec:
        _check_value(out, (*base, "count"), "webhook count", spec["count"], len(numbered))
    if "order" in spec and got_types != spec["order"]:
        out.append(
            Mismatch((*base, "order"), "webhook order", show(spec["order"]), show(got_types))
        )
    if "signature_valid" in spec:
        verdicts = [a.get("signature", {}).get("valid") for a in numbered]
        if not numbered or any(v is not spec["signature_valid"] for v in verdicts):
            out.append(
                Mismatch(
                    (*base, "signature_valid"),
                    "webhook signatures",
                    f"every arrival's signature valid is {show(spec['signature_valid'])}",
                    show(verdicts),
                )
            )
    last = numbered[-1] if numbered else None
    if "attempt" in spec:
        actual = last["attempt"] if last else MISSING
        _check_value(
            out, (*base, "attempt"), "attempt of the last arrival", spec["attempt"], actual
        )
    for key, expected in (spec.get("last") or {}).items():
        actual = _value_at(last, key) if last else MISSING
        _check_value(out, (*base, "last", key), f"last arrival {key}", expected, actual)


def evaluate(
    ctx: Context, expect: dict[str, Any], base: DataPath, subject: Response | None = None
) -> tuple[list[Mismatch], Any]:
    """The mismatches of one expectation (empty when it holds) and the value looked at."""
    spec = ctx.resolve(expect, base)
    out: list[Mismatch] = []
    arrivals: list[dict[str, Any]] | None = None
    if "app" in spec:
        subject = call_operation(ctx, spec["app"], spec.get("with", {}), base)
        ctx.last = subject
    elif "request" in spec:
        subject = call_request(ctx, spec["request"])
        ctx.last = subject
    elif "response" in spec:
        subject = ctx.responses.get(spec["response"])
        if subject is None:
            raise StepError(f"no saved response '{spec['response']}'", (*base, "response"))
    elif "inbox" in spec:
        inbox_id = ctx.inboxes.get(spec["inbox"])
        if inbox_id is None:
            raise StepError(f"no inbox '{spec['inbox']}'", (*base, "inbox"))
        data = ctx.client.ok("GET", f"/_sim/inboxes/{inbox_id}", record=False)
        arrivals = data["received"]
        subject = Response(200, {}, "", data)
    elif subject is None:
        subject = ctx.last
    if subject is None:
        raise StepError("nothing to check: no response yet", base)
    if "status" in spec:
        _check_value(out, (*base, "status"), "status", spec["status"], subject.status)
    for key, expected in (spec.get("json") or {}).items():
        actual = _value_at(subject.json, str(key))
        _check_value(out, (*base, "json", key), str(key), expected, actual)
    headers = {k.lower(): v for k, v in subject.headers.items()}
    for key, expected in (spec.get("headers") or {}).items():
        actual = headers.get(str(key).lower(), MISSING)
        if actual is not MISSING and not is_matcher(expected) and not isinstance(expected, str):
            actual = _coerce(actual)
        _check_value(out, (*base, "headers", key), f"header {key}", expected, actual)
    if "webhooks" in spec:
        if arrivals is None:
            raise StepError("webhooks expectations need an inbox", (*base, "webhooks"))
        _check_webhooks(out, spec["webhooks"], arrivals, (*base, "webhooks"))
    return out, subject


def _coerce(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text


def summarize(mismatches: list[Mismatch]) -> tuple[str, str, str, DataPath]:
    first = mismatches[0]
    if len(mismatches) == 1:
        return f"{first.what}: expected {first.expected}", first.expected, first.seen, first.path
    expected = "; ".join(f"{m.what} {m.expected}" for m in mismatches)
    seen = "; ".join(f"{m.what} = {m.seen}" for m in mismatches)
    return f"{len(mismatches)} expectations failed", expected, seen, first.path


def check_or_fail(
    ctx: Context, expect: dict[str, Any], base: DataPath, subject: Response | None = None
) -> None:
    mismatches, _ = evaluate(ctx, expect, base, subject)
    if mismatches:
        message, expected, seen, path = summarize(mismatches)
        raise StepFailed(message, path=path, expected=expected, seen=seen)


def _step_clock(ctx: Context, remaining_ms: int) -> str:
    result = ctx.client.ok(
        "POST", "/_sim/clock/step", {"max_seconds": remaining_ms / 1000}, record=False
    )
    return result["now"]


def run_wait(ctx: Context, step: dict[str, Any], base: DataPath, kind: str) -> None:
    """`eventually` (until it holds) and `never` (until the first instant it holds)."""
    body = step[kind]
    limit_ms = parse_duration(body["within" if kind == "eventually" else "during"])
    start = _ms(ctx.client.now())
    deadline = start + limit_ms
    where = (*base, kind, "expect")
    while True:
        ctx.client.virtual_time = ctx.client.now()
        mismatches, subject = evaluate(ctx, body["expect"], where)
        now = _ms(ctx.client.virtual_time)
        if kind == "eventually" and not mismatches:
            return
        if kind == "never" and not mismatches:
            raise StepFailed(
                f"never: the expectation held at {ctx.client.virtual_time}"
                f" ({_elapsed(now - start)} after the step began)",
                path=where,
                expected=f"never within {body['during']}",
                seen=_seen_of(subject),
            )
        if now >= deadline:
            if kind == "never":
                return
            message, expected, seen, path = summarize(mismatches)
            raise StepFailed(
                f"eventually: still not true after {body['within']}: {message}",
                path=path,
                expected=expected,
                seen=f"{seen} (last value, at {ctx.client.virtual_time})",
            )
        _step_clock(ctx, deadline - now)


def _seen_of(subject: Response | None) -> str:
    if subject is None:
        return "(nothing)"
    return f"{subject.status} {show(subject.json)[:500]}"


def _elapsed(ms: int) -> str:
    from scenarios.durations import format_duration

    return format_duration(ms)


def _ms(instant: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(instant.replace("Z", "+00:00")).timestamp() * 1000)


RUNNERS = {
    "app": lambda ctx, step, base: run_call_step(ctx, step, base, "app"),
    "request": lambda ctx, step, base: run_call_step(ctx, step, base, "request"),
    "patient": run_patient_step,
    "clock": run_clock_step,
    "fault": run_fault_step,
    "inbox": run_inbox_step,
    "webhook": run_webhook_step,
    "expect": lambda ctx, step, base: check_or_fail(ctx, step["expect"], (*base, "expect")),
    "eventually": lambda ctx, step, base: run_wait(ctx, step, base, "eventually"),
    "never": lambda ctx, step, base: run_wait(ctx, step, base, "never"),
}
