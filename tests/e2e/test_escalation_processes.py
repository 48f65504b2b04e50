"""Escalation with real alp-bot processes: SIGKILL and restart, replicas on one PostgreSQL, failing
pagers, a cut database connection, a paused leader (issue #11's observations, each its own test)."""

from __future__ import annotations

import os
import re
import signal
import time
import uuid

import psycopg
import pytest

from tests.conftest import BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET, BotProcess
from tests.test_slack import command


@pytest.fixture(autouse=True)
def _fresh_pager(request: pytest.FixtureRequest) -> None:
    """Incident numbers restart with each test's database: forget the pager events of earlier tests."""
    if "platform" in request.fixturenames:
        platform = request.getfixturevalue("platform")
        platform.pager_events.clear()
        platform.pager_failures = 0


def pages(fake_slack, ref: str, step: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if f"{ref} " in c.args.get("text", "")
        and f"({step})" in c.args.get("text", "")
        and c.args.get("channel", "").startswith("C")
        and c.response.get("ok")  # posted, not refused
    ]


def wait(pred, timeout: float = 15):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def bot_env(testbed, fake_slack, platform, state_url: str, **over: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **testbed,
        **ESCALATION_ENV,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_STATE_URL": state_url,
        "ALP_ESCALATION__STEP_WAIT_S": "3",
        "ALP_ESCALATION__PAGER_WEBHOOK_URL": f"{platform.base}/pager/v2/enqueue",
        "ALP_ESCALATION__LEADER_LEASE_S": "2",
        "ALP_ESCALATION__PAGE_ATTEMPT_TIMEOUT_S": "1",  # a crashed attempt is retried after 2 s
        **over,
    }


def manager_pages(platform, ref: str) -> list:  # type: ignore[no-untyped-def]
    """Pager events the pager accepted for the incident (its dedup keys are per step)."""
    return [e for e in platform.pager_events if e["dedup_key"].split("-")[:3] == ["alp", *ref.split("-")]]


def kill(bot: BotProcess) -> None:
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGKILL)
    bot.proc.wait()


def opened_ref(fake_slack, summary: str) -> str:  # type: ignore[no-untyped-def]
    msg = fake_slack.wait_for(
        "chat.postMessage", lambda c: summary in c.args.get("text", "") and "INC-" in c.args.get("text", "")
    )
    return re.search(r"INC-\d+", msg.args["text"]).group(0)  # type: ignore[union-attr]


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


@pytest.fixture
def pg_state(testbed):  # type: ignore[no-untyped-def]
    """A fresh PostgreSQL database for the bots' shared state."""
    name = f"alp_state_{uuid.uuid4().hex[:8]}"
    admin = testbed["ALP_POSTGRES_DSN"].rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


def leader_pid(dsn: str) -> int | None:
    """The pid of the holder of the unexpired escalation lease."""
    with psycopg.connect(dsn) as conn:
        try:
            row = conn.execute("SELECT holder FROM alp_leases WHERE expires_at > now()").fetchone()
        except psycopg.errors.UndefinedTable:  # before leases: the holder of the advisory lock
            conn.rollback()
            row = conn.execute("""SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a
                                  ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted""").fetchone()
    return int(row[0].rsplit("-", 1)[1]) if row else None


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
