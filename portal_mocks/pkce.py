"""PKCE (RFC 7636) as SMART requires it: S256 only, `plain` refused, verifier always checked."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from portal_mocks.oauth_errors import OAuthError

VERIFIER_PATTERN = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
CHALLENGE_PATTERN = re.compile(r"^[A-Za-z0-9\-_]{43}$")
SUPPORTED_METHODS = ("S256",)


def s256(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def check_challenge(challenge: str | None, method: str | None) -> None:
    """At the authorize endpoint: a challenge is required and its method must be S256."""
    if not challenge:
        raise OAuthError("invalid_request", "code_challenge is required (PKCE S256)")
    if method is None or method == "":
        raise OAuthError("invalid_request", "code_challenge_method is required; use S256")
    if method not in SUPPORTED_METHODS:
        raise OAuthError("invalid_request", "Invalid code_challenge_method. Must be S256.")
    if not CHALLENGE_PATTERN.match(challenge):
        raise OAuthError("invalid_request", "code_challenge must be 43 base64url characters")


def check_verifier(verifier: str | None, challenge: str) -> None:
    """At the token endpoint: the verifier must be present, well formed and match."""
    if not verifier:
        raise OAuthError("invalid_request", "Missing code_verifier")
    if not VERIFIER_PATTERN.match(verifier):
        raise OAuthError("invalid_request", "Invalid code_verifier format")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise OAuthError("invalid_grant", "Code challenge failed.")
