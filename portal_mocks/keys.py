"""Each portal's RS256 signing key (for id_tokens), kept in the store so it survives restarts."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from simulator.core.store import dumps, loads

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_signing_keys (
    slug TEXT PRIMARY KEY,
    jwk TEXT NOT NULL
);
"""

_lock = threading.Lock()
# One generated key per portal and process, stored in each database that has none yet.
_generated: dict[str, RSAKey] = {}
# Importing a private RSA key validates it (slow), so imported keys are kept by their JWK text.
_imported: dict[str, RSAKey] = {}


def signing_key(rt: Runtime, slug: str) -> RSAKey:
    row = rt.store.one("SELECT jwk FROM portal_signing_keys WHERE slug = ?", (slug,))
    if row is None:
        with _lock:
            key = _generated.get(slug)
            if key is None:
                key = RSAKey.generate_key(
                    2048, parameters={"use": "sig", "alg": "RS256"}, auto_kid=True
                )
                _generated[slug] = key
        with rt.store.tx():
            rt.store.execute(
                "INSERT INTO portal_signing_keys (slug, jwk) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (slug, dumps(key.as_dict(private=True))),
            )
        row = rt.store.one("SELECT jwk FROM portal_signing_keys WHERE slug = ?", (slug,))
    text = row["jwk"]
    key = _imported.get(text)
    if key is None:
        key = _imported[text] = RSAKey.import_key(loads(text))
    return key


def jwks(rt: Runtime, slug: str) -> dict[str, Any]:
    """The public JWK Set (bare keys)."""
    public = signing_key(rt, slug).as_dict(private=False)
    return {"keys": [public]}


def sign(rt: Runtime, slug: str, claims: dict[str, Any]) -> str:
    key = signing_key(rt, slug)
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)
