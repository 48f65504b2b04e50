"""Signed, expiring button payloads: an edited or stale button is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class TokenError(Exception):
    """The payload was tampered with, or is too old; the message says which."""


def sign(data: dict[str, Any], key: bytes, ttl_s: float) -> str:
    body = (
        base64.urlsafe_b64encode(json.dumps({**data, "exp": int(time.time() + ttl_s)}, separators=(",", ":")).encode())
        .decode()
        .rstrip("=")
    )
    mac = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{body}.{mac}"


def verify(token: str, key: bytes) -> dict[str, Any]:
    body, _, mac = token.rpartition(".")
    expected = hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]
    if not body or not hmac.compare_digest(mac, expected):
        raise TokenError("this button's payload does not carry a valid signature (edited?)")
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if data.get("exp", 0) < time.time():
        raise TokenError("this button has expired: run the check again for fresh buttons")
    return data


def key_from(secret: str) -> bytes:
    """A signing key for buttons derived from the Slack signing secret (or its own secret)."""
    return hmac.new(secret.encode(), b"alp-action-buttons", hashlib.sha256).digest()
