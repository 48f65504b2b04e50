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


def block_action(
    action_id: str,
    value: str,
    *,
    block_id: str = "b",
    user: str = "U0ALICE",
    channel: str = "C0ONCALL",
    response_url: str = "",
    message_ts: str = "1.1",
    selected: list[str] | None = None,
) -> str:
    """A button click (or checkbox change) on a message, as Slack posts it."""
    action: dict[str, object] = {
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "type": "button",
        "action_ts": "1700000000.1",
    }
    if selected is not None:
        action = {
            "action_id": action_id,
            "block_id": block_id,
            "type": "checkboxes",
            "selected_options": [{"value": v, "text": {"type": "mrkdwn", "text": v}} for v in selected],
            "action_ts": "1700000000.1",
        }
    return interaction(
        {
            "type": "block_actions",
            "api_app_id": "A0ALP",
            "token": "legacy",
            "trigger_id": "1337.42.abcd",
            "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
            "team": {"id": "T0001", "domain": "alp"},
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "oncall"},
            "message": {"ts": message_ts, "text": ""},
            "response_url": response_url,
            "actions": [action],
        }
    )


def view_submission(
    callback_id: str, private_metadata: str, values: dict[str, dict[str, object]], user: str = "U0ALICE"
) -> str:
    """A modal's submit, as Slack posts it. `values` is view.state.values."""
    return interaction(
        {
            "type": "view_submission",
            "api_app_id": "A0ALP",
            "token": "legacy",
            "trigger_id": "1337.43.abcd",
            "team": {"id": "T0001", "domain": "alp"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
            "view": {
                "id": "V0001",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": values},
                "hash": "1.abc",
            },
        }
    )
