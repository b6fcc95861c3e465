"""Records: the page shape, `type`, `since`, `count`, and both cursors (fact sheet §1.10)."""

from __future__ import annotations

from typing import Any

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

PULL_WAIT_STEP_S = 60
PULL_WAIT_STEPS = 15
PAGE_FIELDS = ("resource_type", "patient_id", "data", "has_more", "next_cursor", "previous_cursor")


def _connected(ctx: Context) -> tuple[str, str]:
    """A patient with an active connection whose first pull settled; (patient id, source).

    The pull may be retried on the clock (rate limits, 5xx), so the clock moves on
    until its `records.sync.*` event arrives.
    """
    box, _ = s.inbox_endpoint(ctx, ["records.sync.completed", "records.sync.failed"])
    walked = s.active(ctx)
    for _ in range(PULL_WAIT_STEPS):
        if s.arrivals(ctx, box["id"]):
            break
        ctx.control.advance(PULL_WAIT_STEP_S)
    else:
        ctx.require(False, "the first pull did not settle within 15 virtual minutes")
    return walked["patient_id"], walked["source"]["id"]


def _page(ctx: Context, pid: str, **query: Any) -> dict[str, Any]:
    return s.ok(ctx, ctx.api.get(f"/patients/{pid}/records", **query), "GET records")


def _key(item: dict[str, Any]) -> tuple[str, str, str]:
    resource = item["resource"]
    return (item["source"] or "", resource["resourceType"], str(resource.get("id")))


def _all(ctx: Context, pid: str, count: int, **query: Any) -> list[dict[str, Any]]:
    """Every record, following next_cursor with pages of `count`."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page = _page(ctx, pid, count=count, starting_after=cursor, **query)
        ctx.require(len(page["data"]) <= count, f"a page of count={count} has {len(page['data'])}")
        found.extend(page["data"])
        if not page["has_more"]:
            ctx.require(page["next_cursor"] is None, "next_cursor set on the last page")
            return found
        ctx.require(page["data"] != [], "an empty page says has_more")
        cursor = page["next_cursor"]
    ctx.require(False, "the records never end")
    return found


@check(
    "REC-001",
    "records",
    "The records page has every field; items are {source, resource} with a resourceType",
    "§1.10",
    needs_control=True,
)
def page_shape(ctx: Context) -> None:
    pid, source_id = _connected(ctx)
    page = _page(ctx, pid)
    ctx.require(set(page) == set(PAGE_FIELDS), f"fields {sorted(page)}")
    ctx.require(page["resource_type"] == "list" and page["patient_id"] == pid, "list/patient_id")
    ctx.require(page["data"] != [], "no records after an active connection's pull")
    for item in page["data"]:
        ctx.require(set(item) == {"source", "resource"}, f"item fields {sorted(item)}")
        ctx.require(item["source"] == source_id, f"source {item['source']!r}")
        ctx.require(isinstance(item["resource"].get("resourceType"), str), "no resourceType")


@check(
    "REC-002",
    "records",
    "A patient without connections has an empty records page; an unknown patient is 404",
    "§1.10",
)
def empty_and_unknown(ctx: Context) -> None:
    body = s.new_patient(ctx)
    page = _page(ctx, body["id"])
    ctx.require(page["data"] == [] and page["has_more"] is False, "records without a connection")
    ctx.require(page["next_cursor"] is None and page["previous_cursor"] is None, "cursors set")
    reply = ctx.api.get("/patients/no-such-patient-r/records")
    envelope(ctx, reply, 404, "not_found_error", "resource_not_found")


@check(
    "REC-003",
    "records",
    "Paging forward with starting_after returns every record exactly once, in order",
    "§1.10",
    needs_control=True,
)
def forward_paging(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    reference = [_key(item) for item in _all(ctx, pid, 100)]
    ctx.require(len(reference) == len(set(reference)), "count=100: a record repeats")
    for count in (1, 7):
        paged = [_key(item) for item in _all(ctx, pid, count)]
        ctx.require(len(paged) == len(set(paged)), f"count={count}: a record repeats")
        missing = set(reference) - set(paged)
        ctx.require(not missing, f"count={count}: {len(missing)} records skipped")
        ctx.require(paged == reference, f"count={count}: the order differs")


@check(
    "REC-004",
    "records",
    "ending_before pages backwards to the same records; previous_cursor is null on page one",
    "§1.10",
    needs_control=True,
)
def backward_paging(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    first = _page(ctx, pid, count=5)
    ctx.require(first["previous_cursor"] is None, "previous_cursor set on the first page")
    ctx.require(first["has_more"] is True, "fewer than six records")
    second = _page(ctx, pid, count=5, starting_after=first["next_cursor"])
    ctx.require(second["previous_cursor"] is not None, "no previous_cursor on page two")
    back = _page(ctx, pid, count=5, ending_before=second["previous_cursor"])
    ctx.require(
        [_key(i) for i in back["data"]] == [_key(i) for i in first["data"]],
        "ending_before did not return the first page",
    )
    overlap = {_key(i) for i in first["data"]} & {_key(i) for i in second["data"]}
    ctx.require(not overlap, "pages one and two overlap")


@check(
    "REC-005",
    "records",
    "Record cursors are opaque 12-character strings",
    "§1.1",
    needs_control=True,
)
def cursor_shape(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    first = _page(ctx, pid, count=2)
    second = _page(ctx, pid, count=2, starting_after=first["next_cursor"])
    for cursor in (first["next_cursor"], second["previous_cursor"]):
        ctx.require(
            isinstance(cursor, str) and len(cursor) == 12 and cursor.isalnum(),
            f"cursor {cursor!r}",
        )


@check(
    "REC-006",
    "records",
    "type keeps only the comma-separated FHIR types, across pages",
    "§1.10",
    needs_control=True,
)
def type_filter(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    everything = _page(ctx, pid, count=100)["data"]
    kinds = sorted({item["resource"]["resourceType"] for item in everything})
    ctx.require(len(kinds) >= 2, f"only {kinds} in the records")
    wanted = kinds[:2]
    got = _all(ctx, pid, 3, type=",".join(wanted))
    want = [_key(i) for i in everything if i["resource"]["resourceType"] in wanted]
    ctx.require([_key(i) for i in got] == want, f"type={','.join(wanted)} answered other records")


@check(
    "REC-007",
    "records",
    "since keeps records changed after the instant: none after now, all since long ago",
    "§1.10",
    needs_control=True,
)
def since_filter(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    everything = _page(ctx, pid, count=100)["data"]
    old = _page(ctx, pid, count=100, since="2000-01-01")
    ctx.require(len(old["data"]) == len(everything), "since=2000-01-01 dropped records")
    now = ctx.control.now()
    later = s.iso(s.ms(now) + 1000)
    ctx.control.advance(2)
    future = _page(ctx, pid, count=100, since=later)
    ctx.require(future["data"] == [], f"since={later} answered {len(future['data'])} records")
    bad = ctx.api.get(f"/patients/{pid}/records", since="yesterday")
    envelope(ctx, bad, 400, "invalid_request_error", "invalid_data")


@check(
    "REC-008",
    "records",
    "count is 1–100 (default 100); outside is 400 invalid_data",
    "§2.1",
    needs_control=True,
)
def count_bounds(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    for count in (0, 101, "ten"):
        reply = ctx.api.get(f"/patients/{pid}/records", count=count)
        envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
    default = _page(ctx, pid)
    hundred = _page(ctx, pid, count=100)
    ctx.require(
        [_key(i) for i in default["data"]] == [_key(i) for i in hundred["data"]],
        "the default count is not 100",
    )
    one = _page(ctx, pid, count=1)
    ctx.require(len(one["data"]) == 1, "count=1")


@check(
    "REC-009",
    "records",
    "A Patient resource carries the developer id as identifier urn:medblocks:patient-id",
    "§1.2",
    needs_control=True,
)
def patient_identifier(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    patients = _all(ctx, pid, 100, type="Patient")
    ctx.require(patients != [], "no Patient resource in the records")
    for item in patients:
        ids = item["resource"].get("identifier") or []
        ctx.require(
            {"system": "urn:medblocks:patient-id", "value": pid}
            in [{"system": i.get("system"), "value": i.get("value")} for i in ids],
            "the Patient resource lacks the urn:medblocks:patient-id identifier",
        )


@check(
    "REC-010",
    "records",
    "A cursor of another patient or of another filter is 400 (documented choice)",
    "§1.10",
    needs_control=True,
)
def cursor_binding(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    other = s.new_patient(ctx)["id"]
    cursor = _page(ctx, pid, count=2)["next_cursor"]
    for path, query in (
        (f"/patients/{other}/records", {"starting_after": cursor}),
        (f"/patients/{pid}/records", {"starting_after": cursor, "type": "Observation"}),
        (f"/patients/{pid}/records", {"starting_after": "AAAAAAAAAAAA"}),
    ):
        reply = ctx.api.get(path, **query)
        envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")


@check(
    "REC-011",
    "records",
    "Records stay readable after the connection is disconnected (documented choice)",
    "§3.2",
    needs_control=True,
)
def kept_after_disconnect(ctx: Context) -> None:
    pid, _ = _connected(ctx)
    conn_id = s.patient(ctx, pid)["connections"][0]["id"]
    before = [_key(i) for i in _page(ctx, pid, count=100)["data"]]
    s.ok(
        ctx,
        ctx.api.call("DELETE", f"/patients/{pid}/connections/{conn_id}"),
        "disconnect",
    )
    after = [_key(i) for i in _page(ctx, pid, count=100)["data"]]
    ctx.require(after == before, "records changed on disconnect")
