"""Each portal's RS256 signing key (for id_tokens), kept in the store so it survives restarts.

A key is generated at most once per portal and process (and stored in each
database that has none yet), and read from a store and imported at most once
per portal and store: the stored row never changes once written.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from joserfc import jwt
from joserfc.jwk import RSAKey

from simulator.core.store import Store, dumps, loads

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_signing_keys (
    slug TEXT PRIMARY KEY,
    jwk TEXT NOT NULL
);
"""


class SigningKeys:
    """The signing keys of one process: generated per portal, loaded per (store, portal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generated: dict[str, RSAKey] = {}
        # Importing a private RSA key validates it (slow), so imports are kept by JWK text.
        self._imported: dict[str, RSAKey] = {}
        self._loaded: WeakKeyDictionary[Store, dict[str, RSAKey]] = WeakKeyDictionary()

    def key(self, rt: Runtime, slug: str) -> RSAKey:
        """The portal's key as `rt`'s store holds it (stored on first use)."""
        held = self._loaded.get(rt.store)
        found = held.get(slug) if held is not None else None
        if found is None:
            found = self._load(rt.store, slug)
            with self._lock:
                self._loaded.setdefault(rt.store, {})[slug] = found
        return found

    def _load(self, store: Store, slug: str) -> RSAKey:
        row = store.one("SELECT jwk FROM portal_signing_keys WHERE slug = ?", (slug,))
        if row is None:
            with store.tx():
                store.execute(
                    "INSERT INTO portal_signing_keys (slug, jwk) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    (slug, dumps(self._generate(slug).as_dict(private=True))),
                )
            row = store.one("SELECT jwk FROM portal_signing_keys WHERE slug = ?", (slug,))
        text = row["jwk"]
        key = self._imported.get(text)
        if key is None:
            key = self._imported.setdefault(text, RSAKey.import_key(loads(text)))
        return key

    def _generate(self, slug: str) -> RSAKey:
        with self._lock:
            key = self._generated.get(slug)
            if key is None:
                key = self._generated[slug] = RSAKey.generate_key(
                    2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True
                )
            return key


_keys = SigningKeys()


def signing_key(rt: Runtime, slug: str) -> RSAKey:
    return _keys.key(rt, slug)


def jwks(rt: Runtime, slug: str) -> dict[str, Any]:
    """The public JWK Set (bare keys)."""
    public = signing_key(rt, slug).as_dict(private=False)
    return {"keys": [public]}


def sign(rt: Runtime, slug: str, claims: dict[str, Any]) -> str:
    key = signing_key(rt, slug)
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
