"""Webhook signatures for integrators' receivers: `verify_signature` and its error.

from simulator.webhooks import SignatureError, verify_signature
"""

from __future__ import annotations

from simulator.domain.webhooks.signature import (
    SignatureError,
    sign,
    signature_header,
    verify_signature,
)

__all__ = ["SignatureError", "sign", "signature_header", "verify_signature"]
