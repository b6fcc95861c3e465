"""Webhooks: endpoints, stored events, signed delivery with retries, inboxes and chaos.

`endpoints` (the integrator's webhook endpoints), `occurrences` (what happened:
one row per event), `publish.emit` (the one entry point other modules call),
`deliveries` (one `evt_` per endpoint, the 9-attempt schedule, redelivery),
`chaos` (hostile deliveries for grading receivers), `inboxes` (built-in
receivers), `payloads` (event bodies fired on demand), `signature` (signing and
verifying `Medblocks-Signature`). Integrators import the verifier from
`simulator.webhooks`.

Imports: like the rest of the domain (core, clients, domain).
"""

from __future__ import annotations

from simulator.domain.webhooks.signature import (
    SignatureError,
    sign,
    signature_header,
    verify_signature,
)

__all__ = ["SignatureError", "sign", "signature_header", "verify_signature"]
