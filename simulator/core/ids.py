"""Identifiers (seeded) and secrets (never seeded).

Ids: prefix + 26-character ULID shape, deterministic from a workspace seed.

A ULID is 48 bits of milliseconds followed by 80 bits of randomness, written
in Crockford base32. Here the "randomness" is derived from the workspace seed
and its id sequence number, and so is the time part, so the same seed and the
same calls give the same ids on every run, whatever the clocks say.

Secrets (hosted link tokens, webhook secrets, API keys, OAuth codes, tokens and
`state`) come from the operating system's CSPRNG instead: a seed is no secret.
"""

from __future__ import annotations

import hashlib
import secrets

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid(ms: int, entropy: bytes) -> str:
    """Encode a 48-bit timestamp and 80 bits of entropy as a 26-character ULID."""
    value = ((ms & ((1 << 48) - 1)) << 80) | int.from_bytes(entropy[:10], "big")
    chars = []
    for _ in range(26):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def seeded_bytes(seed: int, *parts: object, size: int = 32) -> bytes:
    """Deterministic bytes from a seed and any labels (SHA-256 in counter mode)."""
    label = ":".join(str(p) for p in (seed, *parts)).encode()
    out = b""
    block = 0
    while len(out) < size:
        out += hashlib.sha256(label + b"#" + str(block).encode()).digest()
        block += 1
    return out[:size]


# The time part of a seeded id counts sequence numbers from this instant
# (2024-01-01T00:00:00Z), so ids sort in creation order within a workspace and do
# not depend on when, by any clock, the calls were made.
ID_EPOCH_MS = 1_704_067_200_000


def make_id(prefix: str, seed: int, sequence: int, ms: int | None = None) -> str:
    """Prefix + ULID shape from the seed and the sequence number (and `ms` if given)."""
    stamp = ID_EPOCH_MS + sequence if ms is None else ms
    return prefix + ulid(stamp, seeded_bytes(seed, "id", sequence))


def salted_id(prefix: str, seed: int, sequence: int, *salt: object) -> str:
    """Another id of the same shape and creation order for the same sequence number,
    for objects whose id must be unique beyond their workspace (the salt tells them apart).
    """
    entropy = seeded_bytes(seed, "id", sequence, *salt)
    return prefix + ulid(ID_EPOCH_MS + sequence, entropy)


def secret_hex(length: int = 32) -> str:
    """`length` hex characters from the CSPRNG (4 bits each)."""
    return secrets.token_hex((length + 1) // 2)[:length]


def is_ulid_shaped(value: str, prefix: str) -> bool:
    body = value[len(prefix) :] if value.startswith(prefix) else ""
    return len(body) == 26 and all(c in CROCKFORD for c in body)
