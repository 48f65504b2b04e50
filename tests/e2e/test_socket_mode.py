"""With SLACK_APP_TOKEN set, alp-bot takes Slack's events over Socket Mode."""

from __future__ import annotations

import time
import urllib.request
import uuid
from urllib.parse import parse_qsl

from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET
from tests.support.processes import BotProcess
from tests.support.signing import slash_command
from tests.support.slack_requests import blocks_text


def test_socket_mode_acks_over_the_socket_and_answers_in_the_channel(testbed, fake_slack, tmp_path):
    env = {
        **testbed,
        **ESCALATION_ENV,
        **ACTIONS_ENV,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "xapp-1-test",
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/socket.db",
    }
    bot = BotProcess(env).start()
    try:
        deadline = time.monotonic() + 15
        while not fake_slack.socket_connected:
            assert time.monotonic() < deadline, "the bot never opened a Socket Mode connection"
            time.sleep(0.1)
        assert fake_slack.called("apps.connections.open")

        envelope_id = str(uuid.uuid4())
        payload = dict(parse_qsl(slash_command("oncall", fake_slack.response_url("s1"), channel="C0SOCK")))
        fake_slack.socket_send(
            {"envelope_id": envelope_id, "type": "slash_commands", "payload": payload, "accepts_response_payload": True}
        )
        deadline = time.monotonic() + 10
        while not any(m.get("envelope_id") == envelope_id for m in fake_slack.socket_received):
            assert time.monotonic() < deadline, "no ack over the socket"
            time.sleep(0.05)
        ack = next(m for m in fake_slack.socket_received if m.get("envelope_id") == envelope_id)
        assert "devops-oncall" in str(ack.get("payload"))

        envelope_id = str(uuid.uuid4())
        payload = dict(parse_qsl(slash_command("check redis --all", fake_slack.response_url("s2"), channel="C0SOCK")))
        fake_slack.socket_send(
            {"envelope_id": envelope_id, "type": "slash_commands", "payload": payload, "accepts_response_payload": True}
        )
        final = fake_slack.wait_for(
            "chat.update",
            lambda c: c.args.get("channel") == "C0SOCK" and "redis:" in blocks_text(c.args.get("blocks", [])),
        )
        assert "Redis memory" in blocks_text(final.args["blocks"])
        with urllib.request.urlopen(f"{bot.url}/healthz", timeout=5) as resp:  # still serves operations
            assert resp.status == 200
    finally:
        bot.stop()
