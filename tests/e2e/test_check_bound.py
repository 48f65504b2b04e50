"""Checks run at most `ALP_CHECKS__MAX_RUNNING` at once: a burst of different `/alp check` commands
is acked at once, each within Slack's 3 s; the ones beyond the bound are told they are queued and
their place, and every one is answered with its report.

The count of checks running at once is read twice: from the bot's own /metrics
(`alp_checks_running_most`) and, independently, as the most Redis connections the bot held at once
through a TCP proxy in front of the test bed's Redis (each `check redis` holds its own client while it
samples `INFO` a rate window apart).
"""

from __future__ import annotations

import re
import threading

from tests.support.bot_env import BOT_TOKEN, SIGNING_SECRET
from tests.support.processes import BotProcess
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_fake import FakeSlack
from tests.support.slack_requests import blocks_text, get, post
from tests.support.tcp_proxy import PgProxy

BOUND = 2
ASKS = 6


def _said(slack: FakeSlack, channel: str) -> list[str]:
    """Everything posted or updated in `channel`, in order: text and blocks."""
    return [
        c.args.get("text", "") + blocks_text(c.args.get("blocks", []))
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.update") and c.args.get("channel") == channel
    ]


def test_a_burst_of_checks_runs_at_most_the_bound_at_once(testbed, fake_slack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fake_slack.reset()
    proxy = PgProxy(testbed["ALP_REDIS_URL"]).start()
    env = {
        **testbed,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_REDIS_URL": proxy.dsn,
        "ALP_CHECKS__MAX_RUNNING": str(BOUND),
        "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db",
    }
    bot = BotProcess(env, log_path=tmp_path / "bot.log").start()
    try:
        acks: dict[int, tuple[int, float]] = {}

        def ask(i: int) -> None:  # each with its own --limit: different runs, none shared
            body = slash_command(f"check redis --limit {100 + i}", fake_slack.response_url(f"b{i}"), channel=f"C0B{i}")
            status, _, took = post(bot, body, signed_headers(SIGNING_SECRET, body))
            acks[i] = (status, took)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(ASKS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(acks) == list(range(ASKS))
        assert all(status == 200 and took < 3 for status, took in acks.values()), acks

        for i in range(ASKS):  # every command answered with its report, in its own channel
            fake_slack.wait_for(
                "chat.update",
                lambda c, i=i: c.args.get("channel") == f"C0B{i}" and c.args.get("text", "").startswith("redis: "),
                timeout=60,
            )
        assert 1 <= proxy.most <= BOUND * 3, f"{proxy.most} Redis connections at once"  # stats, keys, latency: 3 each
        queued = {i: s for i in range(ASKS) for s in _said(fake_slack, f"C0B{i}")[:1] if "queued" in s.lower()}
        assert len(queued) >= ASKS - BOUND, {i: _said(fake_slack, f"C0B{i}")[:1] for i in range(ASKS)}
        places = sorted(int(m.group(1)) for s in queued.values() if (m := re.search(r"place (\d+)", s)))
        assert places == list(range(1, len(queued) + 1)), queued  # each told its own place in the line

        _, metrics = get(bot, "/metrics")
        most = float(re.search(r"^alp_checks_running_most (\S+)$", metrics, re.M).group(1))  # type: ignore[union-attr]
        assert most == BOUND, metrics
        assert re.search(r"^alp_checks_queued 0\.0$", metrics, re.M), metrics
    finally:
        bot.stop()
        proxy.stop()
