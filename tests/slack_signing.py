"""Build slash-command and interaction requests signed exactly as Slack signs them."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier


def signed_headers(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """`X-Slack-Request-Timestamp` and `X-Slack-Signature` (v0 HMAC-SHA256) for `body`."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


def slash_command(text: str, response_url: str, channel: str = "C0ONCALL", user: str = "U0ALICE") -> str:
    """The form body Slack posts for `/alp <text>`."""
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0001",
            "team_domain": "alp",
            "channel_id": channel,
            "channel_name": "oncall",
            "user_id": user,
            "user_name": "alice",
            "command": "/alp",
            "text": text,
            "api_app_id": "A0ALP",
            "response_url": response_url,
            "trigger_id": "1337.42.abcd",
        }
    )


def interaction(payload: dict[str, object]) -> str:
    """The form body Slack posts for a button click or modal submission."""
    return urlencode({"payload": json.dumps(payload)})
