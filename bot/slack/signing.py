"""Signed, expiring button values: an edited or stale button is refused.

itsdangerous's `URLSafeTimedSerializer`: the value is `payload.timestamp.signature` (URL-safe
base64 of compact JSON, HMAC-SHA1 over both with a key derived for buttons). The payload is signed,
not encrypted: it carries names and numbers only (an action and its parameters, an incident or alert
group id), never a secret. Each value carries its own time to live (`ttl_s`, seconds), checked against
the signed timestamp.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

SALT = "alp-buttons"


class TokenError(Exception):
    """The payload was tampered with, or is too old; the message says which."""


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=SALT)


def sign(data: dict[str, Any], key: bytes, ttl_s: float) -> str:
    """`data` (JSON-able; no secrets: it is readable) as a signed value valid for `ttl_s` seconds."""
    return _serializer(key).dumps({**data, "ttl_s": ttl_s})


def verify(token: str, key: bytes) -> dict[str, Any]:
    """The data of a value `sign` made with `key`. Raises TokenError: an edited value, or one older
    than its time to live."""
    try:
        data, signed_at = _serializer(key).loads(token, return_timestamp=True)
    except BadData as err:
        raise TokenError("this button's payload does not carry a valid signature (edited?)") from err
    if not isinstance(data, dict):
        raise TokenError("this button's payload does not carry a valid signature (edited?)")
    ttl = data.pop("ttl_s", 0)
    if not isinstance(ttl, int | float) or signed_at.timestamp() + ttl < time.time():
        raise TokenError("this button has expired: run the check again for fresh buttons")
    return data


def key_from(secret: str) -> bytes:
    """A signing key for buttons derived from the Slack signing secret (or its own secret)."""
    return hmac.new(secret.encode(), b"alp-action-buttons", hashlib.sha256).digest()
