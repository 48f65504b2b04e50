"""APScheduler wakes the ladder (escalation.ladder.timers), with real alp-bot processes on one
PostgreSQL state store: the leader is SIGKILLed; the follower takes the lease, pages at once a
step that fell due while nobody led, and its own scheduler's job wakes it when the next step
falls due, each page once: the follower's log shows its job woke it at exactly the due time the
record holds (the job is planned from the records, not from anything the dead leader knew)."""

from __future__ import annotations

import re
import time
from datetime import datetime

import psycopg
import pytest

from tests.support.bot_env import bot_env
from tests.support.escalation import leader_pid, open_incident, pages
from tests.support.processes import BotProcess, kill, wait


@pytest.mark.slow
def test_the_followers_scheduler_pages_the_due_step_after_the_leader_dies(
    testbed, fake_slack, platform, pg_state, tmp_path
):
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        pg_state,
        ALP_ESCALATION__LEADER_LEASE_S="3",
        ALP_ESCALATION__LEADER_POLL_S="1",
        ALP_ESCALATION__P1_FIRST_PAGE_S="2",  # the P1's primary falls due while nobody leads
        ALP_ESCALATION__STEP_WAIT_S="12",  # the P0's secondary falls due after the follower leads
    )
    bots = [BotProcess(env, tmp_path / f"bot{i}.log").start() for i in (1, 2)]
    try:
        wait(lambda: leader_pid(pg_state) in {b.proc.pid for b in bots}, 10)  # type: ignore[union-attr]
        leader, follower = sorted(bots, key=lambda b: b.proc.pid != leader_pid(pg_state))  # type: ignore[union-attr]
        p0 = open_incident(follower, fake_slack, "P0", "timers p0")
        wait(lambda: len(pages(fake_slack, p0, "primary")) == 1, 5)
        p1 = open_incident(follower, fake_slack, "P1", "timers p1")
        kill(leader)  # before the P1's primary is due (2 s): it falls due while nobody leads
        killed = time.monotonic()
        wait(lambda: leader_pid(pg_state) == follower.proc.pid, 10)  # type: ignore[union-attr]
        wait(lambda: len(pages(fake_slack, p1, "primary")) == 1, 3)  # the missed step, at once
        assert pages(fake_slack, p0, "secondary") == []  # not due yet
        with psycopg.connect(pg_state) as conn:
            due = conn.execute("SELECT next_due_at FROM alp_incidents WHERE id = %s", (int(p0[4:]),)).fetchone()[0]
        wait(lambda: len(pages(fake_slack, p0, "secondary")) == 1, 20)
        assert time.monotonic() - killed < 25
        log = (tmp_path / "bot2.log" if follower is bots[1] else tmp_path / "bot1.log").read_text()
        woke = [
            datetime.fromisoformat(t)
            for t in re.findall(r"ladder timer: due at (\S+), waking the reconciler \(APScheduler\)", log)
        ]
        assert due in woke, (due, woke, log[-3000:])
        time.sleep(1.5)  # nothing more: each page once
        assert len(pages(fake_slack, p0, "primary")) == 1 and len(pages(fake_slack, p0, "secondary")) == 1
        assert len(pages(fake_slack, p1, "primary")) == 1
    finally:
        for b in bots:
            b.stop()
