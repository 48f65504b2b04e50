"""Issue #22, the fault combinations a fresh tester asked for: the leader's connection cut while it
claims a page from the outbox, a SIGKILL while the schema is being migrated at start, the state
store going away during a two-person approval. Real alp-bot processes, the test bed's PostgreSQL
(through a TCP proxy that cuts like a partition where a connection is cut). Each test counts the
pages due, delivered once, duplicated and lost, or the approvals recorded, refused, lost and run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.support.bot_env import bot_env
from tests.support.escalation import leader_pid, open_incident, pages, replies
from tests.support.processes import ROOT, BotProcess, free_port, wait
from tests.support.tcp_proxy import PgProxy

STEPS = ("primary", "secondary")


def page_counts(fake_slack, refs: list[str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Of every Slack page due (each step of each incident): how many went out once, twice or
    more (duplicated), never (lost)."""
    counts = [len(pages(fake_slack, ref, step)) for ref in refs for step in STEPS]
    return {
        "due": len(counts),
        "once": counts.count(1),
        "duplicated": sum(c > 1 for c in counts),
        "lost": counts.count(0),
    }


@pytest.mark.slow
@pytest.mark.parametrize("cut", ["before-commit", "after-commit"])
def test_a_leader_cut_while_claiming_a_page_neither_loses_nor_repeats_it(testbed, fake_slack, platform, pg_state, cut):
    """The leader reaches PostgreSQL through a proxy that cuts it while it claims a page from the
    outbox: right after the claim's UPDATE (its backend stays idle in transaction, holding the
    page's row), or right after that transaction's COMMIT (the claim is stored, the leader never
    hears so). The follower takes over, and every page due (two steps of four P1 incidents) is
    sent exactly once; the old leader, reconnected, repeats none."""
    proxy = PgProxy(pg_state).start()
    leader = follower = None
    try:
        leader = BotProcess(bot_env(testbed, fake_slack, platform, proxy.dsn)).start()
        wait(lambda: leader_pid(pg_state) == leader.proc.pid, 10)  # type: ignore[union-attr]
        follower = BotProcess(bot_env(testbed, fake_slack, platform, pg_state)).start()
        proxy.cut_after(b"UPDATE alp_pages SET attempts", then=b"COMMIT" if cut == "after-commit" else None)
        refs = [open_incident(follower, fake_slack, "P1", f"claim cut {i}") for i in range(4)]  # paged 2 s later
        assert proxy.cut_done.wait(10), "the leader never claimed a page"
        wait(lambda: leader_pid(pg_state) == follower.proc.pid, 10)  # type: ignore[union-attr]
        wait(lambda: all(pages(fake_slack, r, "secondary") for r in refs), 25)
        proxy.heal()  # the old leader reaches the store again: it must repeat nothing
        time.sleep(4)  # past a claim's lease (2 s) and the idle-in-transaction timeout's cleanup
        counts = page_counts(fake_slack, refs)
        print(f"cut {cut} the claim: {counts}")
        assert counts == {"due": 8, "once": 8, "duplicated": 0, "lost": 0}
    finally:
        for bot in (leader, follower):
            if bot is not None:
                bot.stop()
        proxy.stop()


def migrate_to(dsn: str, revision: str) -> None:
    """The state database at an older schema revision, as an earlier alp left it."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from escalation.state.db import MIGRATIONS, sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(dsn))
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()


def head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from escalation.state.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def schema_state(dsn: str) -> tuple[str, set[str]]:
    """(the revision the database says it is at, the alp tables it has)."""
    with psycopg.connect(dsn) as conn:
        version = conn.execute("SELECT version_num FROM alp_schema_version").fetchone()
        tables = conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'alp_%'").fetchall()
    return (version[0] if version else ""), {t[0] for t in tables}


def start_in_background(env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """`alp-bot` started without waiting for it to listen (it is migrating the schema)."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.server"],
        cwd=ROOT,
        env={**os.environ, **env, "ALP_HTTP_PORT": str(free_port()), "ALP_HTTP_HOST": "127.0.0.1"},
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )


def waiting_on_a_lock(dsn: str, statement: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()
    return any(statement in r[0] for r in rows)


@pytest.mark.slow
def test_sigkill_during_the_migration_at_start_leaves_the_old_schema_and_the_next_start_finishes(
    testbed, fake_slack, platform, pg_state, tmp_path
):
    """A database at revision 0005; alp-bot starts and migrates it (0006 and 0007 create tables,
    0008 alters alp_action_requests, on which a reader holds a lock, so the migration waits there
    with two revisions done). SIGKILL it: the database is still wholly at 0005 (no table of 0006 or
    0007), and the next start finishes the migration and works. With the lock held past the
    migration's limit, the start refuses with a reason naming the state store and the migration."""
    migrate_to(pg_state, "0005")
    before = schema_state(pg_state)
    assert before[0] == "0005" and "alp_alert_instances" not in before[1]
    env = bot_env(testbed, fake_slack, platform, pg_state)
    with psycopg.connect(pg_state) as reader:
        reader.execute("LOCK TABLE alp_action_requests IN ACCESS SHARE MODE")
        proc = start_in_background(env, tmp_path / "killed.log")
        try:
            wait(lambda: waiting_on_a_lock(pg_state, "ALTER TABLE alp_action_requests"), 30)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        reader.rollback()
    after = schema_state(pg_state)
    print(f"killed mid-migration: revision {after[0]}, new tables {sorted(after[1] - before[1])}")
    assert after == before
    with psycopg.connect(pg_state) as reader:
        reader.execute("LOCK TABLE alp_action_requests IN ACCESS SHARE MODE")
        refused = start_in_background({**env, "ALP_STATE__MIGRATION_TIMEOUT_S": "2"}, tmp_path / "refused.log")
        code = refused.wait(60)
        reader.rollback()
    said = (tmp_path / "refused.log").read_text()
    assert code != 0 and "Traceback" not in said, said
    assert "state store" in said and "migrate its schema from revision 0005" in said and "lock" in said, said
    assert "nothing was changed, it is still at revision 0005" in said, said
    assert schema_state(pg_state) == before
    bot = BotProcess(env).start()
    try:
        assert schema_state(pg_state)[0] == head()
        ref = open_incident(bot, fake_slack, "P0", "after the migration")
        wait(lambda: len(pages(fake_slack, ref, "primary")) == 1, 10)
    finally:
        bot.stop()


def action_events(dsn: str, action: str) -> list[str]:
    """The audit's events for `action`, oldest first."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT event FROM alp_audit WHERE action = %s ORDER BY id", (action,)).fetchall()
    return [r[0] for r in rows]


def request_status(dsn: str, action: str) -> str:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT status FROM alp_action_requests WHERE action = %s ORDER BY id DESC", (action,))
        return str(row.fetchone()[0])  # type: ignore[index]


@pytest.mark.slow
@pytest.mark.parametrize("outage", ["store-down", "cut-at-commit"])
def test_an_approval_during_a_state_store_outage_is_recorded_or_refused_never_lost_nor_run_twice(
    testbed, fake_slack, platform, pg_state, tmp_path, outage
):
    """Alice asks for and confirms a destructive action (flush-cache); Bob approves it while the
    bot is cut off from the state store: the whole time (store-down), or right after the approval's
    COMMIT reached PostgreSQL (cut-at-commit: stored, the bot never hears so). Bob is told either
    that it ran or why it did not; clicking Approve again once the store is back runs it if it has
    not run. In the end it ran exactly once and the trail says so."""
    import redis

    from tests.support.bot_env import ACTIONS_ENV
    from tests.support.signing import block_action
    from tests.support.slack_requests import blocks_text, click, command, confirmation, updated

    proxy = PgProxy(pg_state).start()
    env = bot_env(testbed, fake_slack, platform, proxy.dsn, **{**ACTIONS_ENV, "ALP_ACTIONS__APPROVAL_TIMEOUT_S": "120"})
    bot = BotProcess(env, tmp_path / "bot.log").start()
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    try:
        r.set("user:approval-outage", "1")
        command(bot, fake_slack, "do flush-cache", user="U0ALICE")
        msg, buttons = confirmation(fake_slack, "flush-cache")
        click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
        waiting = updated(fake_slack, msg, "needs a *second* authorized person")
        approve = next(
            e["value"]
            for b in waiting.args["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "alp_action_approve"
        )
        if outage == "store-down":
            proxy.partition()
        else:
            proxy.cut_after(b"UPDATE alp_action_requests SET status", then=b"COMMIT")
        n_ephemeral = len(fake_slack.called("chat.postEphemeral"))
        bobs = fake_slack.response_url("bob")
        click(bot, block_action("alp_action_approve", approve, user="U0BOB", response_url=bobs))

        def told_bob() -> list[str]:
            privately = fake_slack.called("chat.postEphemeral")[n_ephemeral:]
            return [c.args.get("text", "") for c in privately if c.args.get("user") == "U0BOB"] + replies(
                fake_slack, "bob"
            )

        def ran() -> bool:
            return any(
                "flushed database" in blocks_text(c.args.get("blocks", [])) for c in fake_slack.called("chat.update")
            )

        time.sleep(3)  # a three-second outage
        proxy.heal()
        wait(lambda: told_bob() or ran(), 30)
        first = told_bob()
        if not ran():
            assert first and "state store" in first[-1], first  # refused, with the reason
            click(
                bot, block_action("alp_action_approve", approve, user="U0BOB", response_url=bobs)
            )  # again, the store back
        wait(ran, 30)
        time.sleep(3)  # a second run, or a run taken for interrupted, would show now
        events = action_events(pg_state, "flush-cache")
        print(f"{outage}: Bob was told {first}; audit {events}; status {request_status(pg_state, 'flush-cache')}")
        assert events.count("started") == 1 and events.count("outcome") == 1, events
        assert "interrupted" not in events, events
        assert request_status(pg_state, "flush-cache") == "done"
        assert r.get("user:approval-outage") is None
    finally:
        bot.stop()
        proxy.stop()
