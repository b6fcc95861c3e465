"""The connections catalog (FhirSource entries), read from a JSON file.

An entry of the file may describe an outside SMART server instead of one of this
process's portals: its `smart` object (`client_id`, `client_secret` or null for a public
client, `scope`) gives the client the simulator uses there, with no dynamic
registration. A workspace adds its own such sources through the control plane
(`simulator.domain.outside_sources`); `Catalog.merged` answers the catalog with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).parent.parent / "data" / "sources.json"

# Stands for this process's base URL in the catalog file and in stored URLs of its own
# portals, so a restart on another port or `--base-url` finds them where it serves now.
BASE_URL = "{base_url}"


def portable(url: str | None, base_url: str) -> str | None:
    """A URL of this process written as `{base_url}/…` (any other URL as it is)."""
    base = base_url.rstrip("/")
    if url is not None and (url == base or url.startswith(base + "/")):
        return BASE_URL + url[len(base) :]
    return url


def localized(value: str | None, base_url: str) -> str | None:
    """`{base_url}` replaced by where this process serves now."""
    if value is None:
        return None
    return value.replace(BASE_URL, base_url.rstrip("/"))


@dataclass(frozen=True)
class Source:
    id: str
    slug: str
    name: str
    type: str | None
    kind: str
    fhir_base_url: str
    logo_url: str | None
    portal_url: str | None
    # An outside SMART server: the client registered there (no dynamic registration).
    client_id: str | None = None
    client_secret: str | None = None
    scope: str | None = None
    # The workspace that added it through the control plane (None: the catalog file's).
    workspace_id: str | None = None

    @property
    def outside(self) -> bool:
        """A server this simulator has a configured client at (not one of its portals)."""
        return self.client_id is not None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource_type": "fhir_source",
            "name": self.name,
            "type": self.type,
            "fhir_base_url": self.fhir_base_url,
            "logo_url": self.logo_url,
            "portal_url": self.portal_url,
        }


class Catalog:
    def __init__(self, sources: list[Source]) -> None:
        self.sources = sources
        self._by_id = {s.id: s for s in sources}
        self._by_url = {s.fhir_base_url.rstrip("/"): s for s in sources}
        self._by_slug = {s.slug: s for s in sources}

    @classmethod
    def load(cls, base_url: str, path: str | Path | None = None) -> Catalog:
        data = json.loads(Path(path or DEFAULT_PATH).read_text())
        sources = []
        for entry in data["sources"]:
            fill = {
                k: (localized(v, base_url) if isinstance(v, str) else v) for k, v in entry.items()
            }
            smart = fill.get("smart") or {}
            sources.append(
                Source(
                    id=fill["id"],
                    slug=fill.get("slug", fill["id"]),
                    name=fill["name"],
                    type=fill.get("type"),
                    kind=fill.get("kind", "hospital"),
                    fhir_base_url=fill["fhir_base_url"],
                    logo_url=fill.get("logo_url"),
                    portal_url=fill.get("portal_url"),
                    client_id=smart.get("client_id"),
                    client_secret=smart.get("client_secret"),
                    scope=smart.get("scope"),
                )
            )
        return cls(sources)

    def merged(self, extra: list[Source]) -> Catalog:
        """This catalog with `extra` sources added (a workspace's own)."""
        return Catalog(self.sources + extra) if extra else self

    def get(self, ident: str) -> Source | None:
        """By `fhirsrc_` id, or by raw `fhir_base_url` (trailing slash ignored)."""
        if not isinstance(ident, str):
            return None
        return self._by_id.get(ident) or self._by_url.get(ident.rstrip("/"))

    def by_id(self, ident: str) -> Source | None:
        return self._by_id.get(ident)

    def by_slug(self, slug: str) -> Source | None:
        return self._by_slug.get(slug)

    def search(self, q: str | None = None, type_: str | None = None) -> list[Source]:
        """Case-insensitive substring on name; exact vendor type. Ordered by name."""
        found = self.sources
        if q:
            needle = q.casefold()
            found = [s for s in found if needle in s.name.casefold()]
        if type_:
            found = [s for s in found if (s.type or "") == type_]
        return sorted(found, key=lambda s: (s.name.casefold(), s.id))
