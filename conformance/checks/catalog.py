"""The catalog: `/connections` lists and retrieves sources by id or fhir_base_url."""

from __future__ import annotations

from urllib.parse import quote

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

SOURCE_FIELDS = ("id", "resource_type", "name", "type", "fhir_base_url", "logo_url", "portal_url")


@check(
    "CAT-001",
    "catalog",
    "GET /connections lists fhir_source entries with exactly the seven fields",
    "§1.5",
)
def list_shape(ctx: Context) -> None:
    listed = s.sources(ctx)
    ctx.require(listed != [], "the catalog is empty")
    for item in listed:
        ctx.require(set(item) == set(SOURCE_FIELDS), f"fields {sorted(item)}")
        ctx.require(item["resource_type"] == "fhir_source", "resource_type")
        ctx.require(item["id"].startswith("fhirsrc_"), f"id {item['id']!r}")
        ctx.require(isinstance(item["name"], str) and item["name"], "empty name")
        ctx.require(item["type"] is None or isinstance(item["type"], str), "type")


@check(
    "CAT-002",
    "catalog",
    "Every source has its own fhir_base_url (stable and unique) and its own id",
    "§1.5",
)
def unique_base_urls(ctx: Context) -> None:
    listed = s.sources(ctx)
    bases = [item["fhir_base_url"] for item in listed]
    ids = [item["id"] for item in listed]
    ctx.require(len(set(bases)) == len(bases), "two sources share a fhir_base_url")
    ctx.require(len(set(ids)) == len(ids), "two sources share an id")


@check(
    "CAT-003",
    "catalog",
    "GET /connections/{id} answers the same entry as the list, by id and by fhir_base_url",
    "§2.1",
)
def retrieve(ctx: Context) -> None:
    for item in s.sources(ctx):
        by_id = s.ok(ctx, ctx.api.get(f"/connections/{item['id']}"), "retrieve by id")
        ctx.require(by_id == item, f"{item['id']} retrieved differs from its list entry")
        encoded = quote(item["fhir_base_url"], safe="")
        by_url = s.ok(ctx, ctx.api.get(f"/connections/{encoded}"), "retrieve by fhir_base_url")
        ctx.require(by_url == item, f"{item['fhir_base_url']} answers another entry")


@check("CAT-004", "catalog", "An unknown source is 404 resource_not_found", "§2.4")
def unknown(ctx: Context) -> None:
    reply = ctx.api.get("/connections/fhirsrc_unknown0000000000000000")
    envelope(ctx, reply, 404, "not_found_error", "resource_not_found")


@check(
    "CAT-005",
    "catalog",
    "q is a case-insensitive substring match on the name",
    "§2.1",
)
def search(ctx: Context) -> None:
    listed = s.sources(ctx)
    name = listed[0]["name"]
    needle = name[1:5].swapcase()
    page = s.ok(ctx, ctx.api.get("/connections", q=needle, limit=100), "q search")
    got = {item["id"] for item in page["data"]}
    want = {item["id"] for item in listed if needle.lower() in item["name"].lower()}
    ctx.require(got == want, f"q={needle!r} found {sorted(got)}, expected {sorted(want)}")
    none = s.ok(ctx, ctx.api.get("/connections", q="zzqx-no-such-source"), "q search")
    ctx.require(none["data"] == [] and none["has_more"] is False, "a miss is not empty")


@check("CAT-006", "catalog", "type filters the catalog by vendor", "§2.1")
def by_type(ctx: Context) -> None:
    listed = s.sources(ctx)
    vendors = {item["type"] for item in listed if item["type"]}
    ctx.require(vendors != set(), "no source has a type")
    for vendor in sorted(vendors):
        page = s.ok(ctx, ctx.api.get("/connections", type=vendor, limit=100), "type filter")
        got = {item["id"] for item in page["data"]}
        want = {item["id"] for item in listed if item["type"] == vendor}
        ctx.require(got == want, f"type={vendor} found {sorted(got)}")


@check(
    "CAT-007",
    "catalog",
    "A raw fhir_base_url works as connection_id when creating a session",
    "§1.3",
)
def base_url_as_id(ctx: Context) -> None:
    src = s.source(ctx)
    body = s.new_session(ctx, connection_id=src["fhir_base_url"])
    ctx.require(
        body["connection_id"] in (src["id"], src["fhir_base_url"]),
        f"connection_id came back as {body['connection_id']!r}",
    )
