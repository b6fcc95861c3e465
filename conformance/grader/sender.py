"""POSTing one delivery to the receiver and recording the exchange (no secret kept)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import requests

from conformance.grader.deliveries import Delivery
from conformance.grader.signing import HEADER, redact_signature
from conformance.http import REDACTED, redact_text
from conformance.results import Exchange

_BODY_LIMIT = 4096
_SECRET_HEADERS = {"set-cookie", "authorization"}


@dataclass(frozen=True)
class Answer:
    """What came back: a status, or `error` when nothing did (time-out, refused)."""

    exchange: Exchange
    status: int | None
    error: str | None
    elapsed_s: float


def _clean(text: str, secret: str) -> str:
    text = redact_text(text)
    if secret:
        text = text.replace(secret, REDACTED)
    return text[:_BODY_LIMIT]


def _report_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (redact_signature(v) if k == HEADER else v) for k, v in headers.items()}


def send(
    session: requests.Session, url: str, delivery: Delivery, timeout: float, secret: str
) -> Answer:
    """POST `delivery` to `url`; a response later than `timeout` counts as none."""
    status: int | None = None
    got_headers: dict[str, str] = {}
    text = ""
    error: str | None = None
    start = time.perf_counter()
    try:
        resp = session.post(
            url,
            data=delivery.body,
            headers=delivery.headers,
            timeout=timeout,
            allow_redirects=False,
        )
        status, got_headers = resp.status_code, dict(resp.headers)
        text = resp.content[:_BODY_LIMIT].decode("utf-8", errors="replace")
    except requests.Timeout:
        error = f"timeout: no response within {timeout:g} s"
    except requests.ConnectionError as exc:
        error = f"no response: connection failed ({type(exc).__name__})"
    except (requests.RequestException, ValueError, UnicodeError) as exc:
        error = f"no response: {type(exc).__name__}"
    elapsed = time.perf_counter() - start
    if error is None and elapsed > timeout:
        error = f"timeout: answered {status} after {elapsed:.2f} s (limit {timeout:g} s)"
    exchange = Exchange(
        method="POST",
        url=redact_text(url),
        request_headers=_report_headers(delivery.headers),
        request_body=_clean(delivery.body.decode("utf-8", errors="replace"), secret),
        status=status or 0,
        response_headers={
            k: (REDACTED if k.lower() in _SECRET_HEADERS else v) for k, v in got_headers.items()
        },
        response_body=_clean(text if status is not None else (error or ""), secret),
        elapsed_ms=round(elapsed * 1000, 2),
    )
    return Answer(exchange, status, error, elapsed)
