"""The API reference: every operation and input field of /openapi.json is described, and
/docs renders it in headless Chromium from local files only (and lists it without JS)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from livekit import chromium, live_sim, screenshot
from playwright.sync_api import expect

from simulator.testing import Sim

METHODS = ("get", "put", "post", "delete", "patch")


def resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def undescribed_fields(doc: dict[str, Any], schema: Any, where: str, seen: set[int]) -> list[str]:
    """Properties (at any depth) of an input schema that have no description."""
    schema = resolve(doc, schema)
    if not isinstance(schema, dict) or id(schema) in seen:
        return []
    seen.add(id(schema))
    missing: list[str] = []
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in schema.get(key, []):
            missing += undescribed_fields(doc, sub, where, seen)
    for name, prop in (schema.get("properties") or {}).items():
        if not (prop.get("description") or resolve(doc, prop).get("description")):
            missing.append(f"{where}.{name}")
        missing += undescribed_fields(doc, prop, f"{where}.{name}", seen)
    if "items" in schema:
        missing += undescribed_fields(doc, schema["items"], where + "[]", seen)
    return missing


def undescribed(doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    operations, fields = [], []
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            name = f"{method.upper()} {path}"
            if not op.get("summary") or not op.get("description"):
                operations.append(name)
            for param in [*item.get("parameters", []), *op.get("parameters", [])]:
                param = resolve(doc, param)
                if not param.get("description"):
                    fields.append(f"{name} {param['in']} parameter {param['name']}")
            body = resolve(doc, op.get("requestBody"))
            for media in (body or {}).get("content", {}).values():
                fields += undescribed_fields(doc, media.get("schema", {}), f"{name} body", set())
    return operations, fields


def test_every_operation_and_input_field_has_a_description(sim: Sim) -> None:
    doc = sim.client.get("/openapi.json").json
    operations, fields = undescribed(doc)
    assert not operations, "operations without summary and description: " + ", ".join(operations)
    assert not fields, "input fields without a description: " + ", ".join(fields)


def test_the_walker_finds_what_lacks_a_description() -> None:
    doc = {
        "paths": {
            "/x/{id}": {
                "post": {
                    "summary": "s",
                    "parameters": [{"name": "id", "in": "path"}],
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/In"}}
                        }
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "In": {
                    "properties": {
                        "a": {"type": "string", "description": "fine"},
                        "b": {"type": "array", "items": {"properties": {"c": {}}}},
                    }
                }
            }
        },
    }
    operations, fields = undescribed(doc)
    assert operations == ["POST /x/{id}"]
    assert fields == [
        "POST /x/{id} path parameter id",
        "POST /x/{id} body.b",
        "POST /x/{id} body.b[].c",
    ]


def test_docs_page_lists_every_operation_without_javascript(sim: Sim) -> None:
    doc = sim.client.get("/openapi.json").json
    page = sim.client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for item in doc["paths"].values():
        for method in METHODS:
            if method in item:
                assert f'id="op-{item[method]["operationId"]}"' in html
    assert "http://" not in html.replace(sim.base_url, "") and "https://" not in html
    assert sim.client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert sim.client.get("/docs/assets/index.html").status_code == 404
    assert sim.client.get("/docs/assets/..%2Fpyproject.toml").status_code == 404


@pytest.mark.browser
def test_docs_render_operations_in_chromium_from_local_files_only() -> None:
    with live_sim() as sim, chromium() as browser:
        requested: list[str] = []
        for width in (390, 1280):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("request", lambda req: requested.append(req.url))
            page.goto(sim.base_url + "/docs")
            page.wait_for_selector(".opblock-summary", timeout=20000)
            count = page.locator(".opblock").count()
            assert count == sum(
                1
                for item in sim.client.get("/openapi.json").json["paths"].values()
                for m in METHODS
                if m in item
            )
            assert page.locator("#plain").is_hidden()  # the no-JS list gives way
            screenshot(page, f"docs-{width}", full_page=False)
            page.locator(".opblock-summary", has_text="/patient-sessions").first.click()
            page.wait_for_selector(".opblock-body")
            assert "Picker mode without" in page.locator(".opblock.is-open").first.inner_text()
            screenshot(page, f"docs-operation-{width}", full_page=False)
            page.close()
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(sim.base_url))
        assert requested and all(url.startswith(origin + "/") for url in requested), {
            u for u in requested if not u.startswith(origin)
        }

        nojs = browser.new_context(java_script_enabled=False).new_page()
        nojs.goto(sim.base_url + "/docs")
        expect(nojs.locator("#plain li.operation")).to_have_count(count)
        expect(nojs.locator("#op-api\\.initPatientSession")).to_be_visible()
