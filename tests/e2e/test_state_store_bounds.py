"""Issue #22, observation 1: every statement on the state store is bounded, and a leader cut off
from PostgreSQL inside its lease transaction does not stop the ladders (real alp-bot processes,
real PostgreSQL, a TCP proxy between the leader and PostgreSQL that cuts like a partition)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from tests.support.bot_env import bot_env, opened_ref
from tests.support.escalation import leader_pid, open_incident, pages, replies, slash
from tests.support.processes import BotProcess, wait
from tests.support.tcp_proxy import PgProxy


def lock_waits(dsn: str) -> list[float]:
    """Seconds each backend of the database has been waiting for a lock, now."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM now() - state_change) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()
    return [float(r[0]) for r in rows]


class LockWatch:
    """The longest lock wait seen on the database while it runs (sampled every 0.2 s)."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.longest, self._stop = dsn, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.longest = max([self.longest, *lock_waits(self.dsn)])

    def __enter__(self) -> LockWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.slow
def test_a_leader_cut_inside_its_lease_transaction_is_replaced_and_the_ladder_moves(
    testbed, fake_slack, platform, pg_state
):
    """The leader's connection is cut after its lease UPDATE reached PostgreSQL, before COMMIT: its
    backend stays idle in transaction holding the lease row. The other replica must still lead and
    page the next step, and nobody waits on that lock for longer than the lock timeout."""
    proxy = PgProxy(pg_state).start()
    leader = follower = None
    try:
        leader = BotProcess(bot_env(testbed, fake_slack, platform, proxy.dsn)).start()
        wait(lambda: leader_pid(pg_state) == leader.proc.pid, 10)  # type: ignore[union-attr]
        follower = BotProcess(bot_env(testbed, fake_slack, platform, pg_state)).start()
        with LockWatch(pg_state) as watch:
            proxy.cut_after(b"UPDATE alp_leases")
            assert proxy.cut_done.wait(5), "the leader never renewed its lease"
            cut_at = time.monotonic()
            ref = open_incident(follower, fake_slack, "P0", "cut leader")  # the secondary is due 3 s later
            wait(lambda: len(pages(fake_slack, ref, "primary")) == 1, 5)
            wait(lambda: len(pages(fake_slack, ref, "secondary")) == 1, 15)
            took = time.monotonic() - cut_at
        assert leader_pid(pg_state) == follower.proc.pid  # type: ignore[union-attr]
        print(f"secondary paged {took:.1f}s after the cut; longest lock wait {watch.longest:.1f}s")
        assert took < 12, f"the secondary was paged {took:.1f}s after the cut"
        assert watch.longest < 3.5, f"a statement waited {watch.longest:.1f}s on a lock"
    finally:
        for bot in (leader, follower):
            if bot is not None:
                bot.stop()
        proxy.stop()


def test_a_click_meeting_a_locked_incident_is_answered_within_the_lock_timeout(testbed, fake_slack, platform, pg_state):
    """Someone holds the incident's row (a stuck session): `/alp incident ack` gets an answer that
    names the state store within the lock timeout instead of waiting for ever."""
    bot = BotProcess(bot_env(testbed, fake_slack, platform, pg_state, ALP_STATE__LOCK_TIMEOUT_S="1")).start()
    try:
        summary = f"locked {uuid.uuid4().hex[:6]}"
        open_incident_cmd = f"incident open P2 {summary}"
        slash(bot, fake_slack, open_incident_cmd, "open")
        n = int(opened_ref(fake_slack, summary)[4:])
        with psycopg.connect(pg_state) as holder:
            holder.execute("SELECT id FROM alp_incidents WHERE id = %s FOR UPDATE", (n,))
            t0 = time.monotonic()
            slash(bot, fake_slack, f"incident ack {n}", "ack")
            wait(lambda: replies(fake_slack, "ack"), 8)
            took = time.monotonic() - t0
            said = replies(fake_slack, "ack")[-1]
            holder.rollback()
        assert "state store" in said and "lock" in said, said
        assert took < 5, f"answered after {took:.1f}s"
    finally:
        bot.stop()
