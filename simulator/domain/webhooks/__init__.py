"""Webhooks: endpoints, stored events, signed delivery with retries, inboxes and chaos.

Integrators can verify deliveries in their own receivers with
`simulator.webhooks.verify_signature`.
"""

from __future__ import annotations

from simulator.domain.webhooks.signature import (
    SignatureError,
    sign,
    signature_header,
    verify_signature,
)

__all__ = ["SignatureError", "sign", "signature_header", "verify_signature"]
