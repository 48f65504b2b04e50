"""The demo's alert pipeline: the test bed's Alertmanager pointed at a running alp-bot, so a fault in
the demo world (auth-service slow on the platform stand-in) fires the bed's real Prometheus rule
(HighResponseTime, scripts/testbed.d/prometheus/rules.yml) into Alertmanager and on to alp's webhook.

    with alert_route(env, bot_url, token):   # env: `scripts/testbed env`
        ...                                   # Alertmanager notifies the bot; its old config is put back after
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

RULE = "HighResponseTime"  # the rule the demo's slow auth-service fires
# alp's route for it (ALP_ALERTMANAGER__ROUTES): the runbook's latency check, and a P2 incident
ROUTES = [{"match": {"alertname": RULE}, "check": "latency", "priority": "P2"}]


def receiver_config(bot_url: str, token: str, receiver: str) -> str:
    """alertmanager.yml sending every group to the bot's webhook (short timings: a demo)."""
    return f"""# written by scripts/demo_bot.py while `scripts/run bot --demo` runs; put back when it stops
route:
  receiver: {receiver}
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 5s
  repeat_interval: 1h
receivers:
  - name: {receiver}
    webhook_configs:
      - url: {bot_url}/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def _reload(am_url: str) -> None:
    req = urllib.request.Request(f"{am_url}/-/reload", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


@contextmanager
def alert_route(env: Mapping[str, str], bot_url: str, token: str) -> Iterator[str | None]:
    """Point the bed's Alertmanager (ALP_ALERTMANAGER__URL, its config ALP_TESTBED_ALERTMANAGER_CONFIG)
    at `bot_url` for the block; yields the receiver's name (None: Alertmanager did not answer). A receiver named afresh each time, so
    Alertmanager notifies the new bot of alerts already firing (its log of what was sent is per receiver)."""
    path = Path(env["ALP_TESTBED_ALERTMANAGER_CONFIG"])
    am_url = env["ALP_ALERTMANAGER__URL"]
    before = path.read_text() if path.exists() else None
    receiver: str | None = f"alp-demo-{uuid.uuid4().hex[:8]}"
    path.write_text(receiver_config(bot_url, token, receiver))
    try:
        _reload(am_url)
    except OSError:  # Alertmanager down: the demo runs without alerts, saying so
        receiver = None
    try:
        yield receiver
    finally:
        if before is not None:
            path.write_text(before)
            with suppress(OSError):
                _reload(am_url)


def bot_env(token: str) -> dict[str, str]:
    """What the demo's bot needs to take the alerts: the webhook's token and the route."""
    return {
        "ALP_ALERTMANAGER__WEBHOOK_TOKEN": token,
        "ALP_ALERTMANAGER__ROUTES": json.dumps(ROUTES),
        "ALP_ALERTMANAGER__CHANNEL": "C0ONCALL",
    }
