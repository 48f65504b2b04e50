"""Drive the test bed's real Alertmanager: point its receiver at a bot, post alerts as Prometheus does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.processes import ROOT, BotProcess

TOKEN = "alertmanager-test-token"


def receiver_config(bot_url: str, token: str = TOKEN) -> str:
    """alertmanager.yml sending every group to the bot, with short group timings."""
    return f"""
route:
  receiver: alp
  group_by: [alertname, group]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['repeat="fast"']
      repeat_interval: 2s
receivers:
  - name: alp
    webhook_configs:
      - url: {bot_url}/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
"""


def point_at(am_url: str, config_path: str, bot_url: str) -> None:
    with open(config_path, "w") as f:
        f.write(receiver_config(bot_url))
    call(am_url, "POST", "/-/reload", raw=True)


def call(am_url: str, method: str, path: str, body: Any = None, raw: bool = False) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{am_url}{'' if raw else '/api/v2'}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        text = resp.read().decode()
    return json.loads(text) if text.strip() and not raw else text


def fire(am_url: str, alerts: list[dict[str, Any]], minutes: float = 10) -> None:
    """POST /api/v2/alerts as Prometheus does: each alert with labels, annotations, startsAt, endsAt."""
    now = datetime.now(UTC)
    call(
        am_url,
        "POST",
        "/alerts",
        [
            {
                "labels": a["labels"],
                "annotations": a.get("annotations", {}),
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=minutes)).isoformat(),
                "generatorURL": a.get("generatorURL", "http://prometheus.example:9090/graph?g0.expr=up"),
            }
            for a in alerts
        ],
    )


def resolve(am_url: str, alerts: list[dict[str, Any]]) -> None:
    """Prometheus resolves an alert by sending it again with endsAt in the past."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    call(
        am_url,
        "POST",
        "/alerts",
        [{"labels": a["labels"], "annotations": a.get("annotations", {}), "endsAt": past.isoformat()} for a in alerts],
    )


def post_webhook(bot_url: str, body: bytes, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{bot_url}/alertmanager", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def payload(group_key: str, alerts: list[dict[str, Any]], status: str = "firing") -> dict[str, Any]:
    """A webhook body as Alertmanager sends it (version 4)."""
    now = datetime.now(UTC).isoformat()
    return {
        "version": "4",
        "groupKey": group_key,
        "status": status,
        "receiver": "alp",
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": alerts[0]["labels"],
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": a["labels"],
                "annotations": a.get("annotations", {}),
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": a.get("generatorURL", ""),
                "fingerprint": a.get("fingerprint", f"{abs(hash(json.dumps(a['labels'], sort_keys=True))):016x}"),
            }
            for a in alerts
        ],
    }


ROUTES = [
    {"match": {"alertname": "~.*Redis.*"}, "check": "redis", "priority": "P2", "channel": "C0ALERTS"},
    {
        "match": {"alertname": "~.*Lag.*"},
        "check": "kafka-lag",
        "args": {"group": "{consumergroup}", "samples": "{samples}"},
        "channel": "C0ALERTS",
    },
    {
        "match": {"alertname": "~Storm.*"},
        "check": "redis",
        "args": {"limit": 10},
        "priority": "P2",
        "channel": "C0STORM",
    },
]


def incidents(bot: BotProcess) -> list[dict]:
    data = json.loads(alp_cli(bot, "--json", "incident", "list"))
    return data["incidents"] if isinstance(data, dict) else data


def group_posts(fake_slack, name: str, channel: str = "C0ALERTS") -> list:  # type: ignore[no-untyped-def]
    """Top-level messages of alert groups named `name` (not incident announcements, not thread replies)."""
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if c.args.get("channel") == channel
        and c.response.get("ok")
        and not c.args.get("thread_ts")
        and name in c.args.get("text", "")
        and ("FIRING" in c.args.get("text", "") or "RESOLVED" in c.args.get("text", ""))
    ]


def alp_cli(bot: BotProcess, *args: str) -> str:
    env = {**os.environ, **bot.env}
    out = subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout
