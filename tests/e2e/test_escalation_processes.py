"""Escalation with real alp-bot processes: SIGKILL and restart, replicas on one PostgreSQL, failing
pagers, a cut database connection, a paused leader (issue #11's observations, each its own test)."""

from __future__ import annotations

import os
import signal
import time
import uuid

from tests.support.bot_env import bot_env, opened_ref
from tests.support.escalation import leader_pid, manager_pages, pages
from tests.support.processes import BotProcess, wait
from tests.support.slack_requests import command


def test_sigkill_between_steps_then_restart_pages_next_step_exactly_once(testbed, fake_slack, platform, tmp_path):
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db")
    first = BotProcess(env).start()
    summary = f"kill test {uuid.uuid4().hex[:6]}"
    command(first, fake_slack, f"incident open P0 {summary}")
    ref = opened_ref(fake_slack, summary)
    wait(lambda: len(pages(fake_slack, ref, "primary")) == 1)
    # Slack has the page before the bot records it sent (killed in between, it is re-sent at the next
    # start, by design: at least once). The bot refreshes the incident's message once it is recorded.
    paged_at = pages(fake_slack, ref, "primary")[0].at
    wait(lambda: [c for c in fake_slack.called("chat.update") if c.at > paged_at])
    first.proc.send_signal(signal.SIGKILL)  # no goodbye: the secondary step is still a timer in the store
    first.proc.wait()
    time.sleep(3.5)  # the secondary falls due while no bot runs

    second = BotProcess(env).start()
    try:
        t0 = time.monotonic()
        wait(lambda: len(pages(fake_slack, ref, "secondary")) == 1, 5)
        assert time.monotonic() - t0 < 4, "the overdue step should fire at start"
        events = lambda: manager_pages(platform, ref)  # noqa: E731
        wait(lambda: len(events()) == 1, 8)  # the manager, by phone, three seconds later
        time.sleep(1.0)
        assert len(pages(fake_slack, ref, "primary")) == 1
        assert len(pages(fake_slack, ref, "secondary")) == 1
        assert len(events()) == 1
    finally:
        second.stop()


def test_two_replicas_page_once_and_the_follower_takes_over(testbed, fake_slack, platform, pg_state):
    env = bot_env(testbed, fake_slack, platform, pg_state)
    a, b = BotProcess(env).start(), BotProcess(env).start()
    try:
        wait(lambda: leader_pid(pg_state) in (a.proc.pid, b.proc.pid), 10)
        summary = f"replicas {uuid.uuid4().hex[:6]}"
        follower = b if leader_pid(pg_state) == a.proc.pid else a
        command(follower, fake_slack, f"incident open P0 {summary}")  # the follower takes the command
        ref = opened_ref(fake_slack, summary)
        wait(lambda: len(pages(fake_slack, ref, "secondary")) == 1, 10)
        assert len(pages(fake_slack, ref, "primary")) == 1

        leader = a if follower is b else b
        os.kill(leader.proc.pid, signal.SIGKILL)  # the leader dies before the manager step
        leader.proc.wait()
        events = lambda: manager_pages(platform, ref)  # noqa: E731
        wait(lambda: len(events()) == 1, 10)
        wait(lambda: leader_pid(pg_state) == follower.proc.pid, 5)
        time.sleep(1.0)
        assert len(pages(fake_slack, ref, "primary")) == 1 and len(pages(fake_slack, ref, "secondary")) == 1
        assert len(events()) == 1
    finally:
        a.stop()
        b.stop()
