"""Issue #22 (the storm with the leader SIGKILLed, a page outside its thread): a page that falls due
while its incident's announcement is still owed waits for it, bounded, and goes into its thread; past
the bound it is posted in the channel and says why. Real alp-bot processes, the real state store."""

from __future__ import annotations

import uuid

import pytest

from tests.support.bot_env import bot_env, opened_ref
from tests.support.escalation import pages
from tests.support.processes import BotProcess, kill, wait
from tests.support.slack_requests import command


def top_level(fake_slack, text: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if text in c.args.get("text", "") and not c.args.get("thread_ts") and c.response.get("ok")
    ]


@pytest.mark.slow
def test_a_page_due_while_a_dead_replica_holds_the_announcement_goes_into_its_thread(
    testbed, fake_slack, platform, tmp_path
):
    """The announcement reached Slack, its answer never reached the bot, which is SIGKILLed; the
    first page is due at once. The next bot pages while the dead one's claim on the announcement
    still holds (an attempt's lease: 2 x 15 s here, longer than any restart): the page finds the
    announcement and goes into its thread. Before: it was posted at the top of the channel."""
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ESCALATION__P1_FIRST_PAGE_S="0",
        ALP_ESCALATION__PAGE_ATTEMPT_TIMEOUT_S="15",
    )
    first = BotProcess(env).start()
    summary = f"page waits {uuid.uuid4().hex[:6]}"
    fake_slack.delay_top_text[f"triggered: {summary}"] = 30  # posted; the answer never comes in time
    command(first, fake_slack, f"incident open P1 {summary}")
    ref = opened_ref(fake_slack, summary)
    kill(first)
    fake_slack.delay_top_text.clear()
    second = BotProcess(env).start()
    try:
        wait(lambda: pages(fake_slack, ref, "primary"), 20)
        posted = top_level(fake_slack, f"{ref} P1 ")
        assert len(posted) == 1, [c.args.get("text") for c in posted]
        paged = pages(fake_slack, ref, "primary")
        assert [p.args.get("thread_ts") for p in paged if not p.args["channel"].startswith("D")] == [
            posted[0].response["ts"]
        ]
    finally:
        second.stop()


def test_a_page_whose_announcement_slack_keeps_refusing_is_sent_in_the_channel_saying_why(
    testbed, fake_slack, platform, tmp_path
):
    """Slack refuses the announcement again and again: the page that is due waits its bound (3 x
    the attempt's limit, 3 s here), then goes out in the channel with a line saying why it is not
    in a thread. Nothing is lost: a page that is due is sent."""
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db", ALP_ESCALATION__P1_FIRST_PAGE_S="0")
    bot = BotProcess(env).start()
    try:
        summary = f"never announced {uuid.uuid4().hex[:6]}"
        fake_slack.fail_text[f"triggered: {summary}"] = 1000
        command(bot, fake_slack, f"incident open P1 {summary}")
        ref = opened_ref(fake_slack, summary)
        wait(lambda: pages(fake_slack, ref, "primary"), 20)
        page = pages(fake_slack, ref, "primary")[0]
        refused = [c for c in fake_slack.called("chat.postMessage") if c.args.get("text", "").startswith(f"{ref} P1 ")]
        assert page.args.get("thread_ts") is None
        assert "not in " + ref + "'s thread: its announcement is not posted yet" in str(page.args.get("blocks"))
        assert page.at - refused[0].at >= 2.5  # it waited for the announcement first
    finally:
        fake_slack.fail_text.clear()
        bot.stop()
