"""SQLite as the state store: "database is locked" never reaches a user.

A reader of the state file (an operator's `sqlite3 alp-state.db`, a backup, `alp audit` in the
terminal) holds a read transaction open; in SQLite's default rollback journal every write of the
bot then waits for it (and, after the busy timeout, fails with "database is locked"). In WAL mode
readers and the writer do not block each other, and transactions that write take the lock first
(BEGIN IMMEDIATE) and queue for it instead of failing at once.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.bot_env import bot_env
from tests.support.processes import BotProcess
from tests.support.slack_requests import command

HELD_S = 8.0


@pytest.mark.slow
def test_a_long_reader_of_the_state_file_does_not_hold_up_the_bots_writes(testbed, fake_slack, platform, tmp_path):
    state = tmp_path / "state.db"
    bot = BotProcess(bot_env(testbed, fake_slack, platform, f"sqlite:///{state}"), tmp_path / "bot.log").start()
    try:
        reader = sqlite3.connect(state, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM alp_incidents").fetchone()  # a read transaction, held open
        t0 = time.monotonic()
        summary = f"reader holds {uuid.uuid4().hex[:6]}"
        assert command(bot, fake_slack, f"incident open P2 {summary}")[0] == 200
        opened = fake_slack.wait_for(
            "chat.postMessage", lambda c: summary in c.args.get("text", "") and "INC-" in c.args.get("text", ""), 30
        )
        took = time.monotonic() - t0
        reader.execute("COMMIT")
        reader.close()
        assert took < HELD_S / 2, f"the incident was opened {took:.1f}s later: the bot's write waited on a reader"
        assert opened
    finally:
        bot.stop()
    assert "database is locked" not in (tmp_path / "bot.log").read_text()


@pytest.mark.slow
def test_concurrent_writes_on_sqlite_never_answer_database_is_locked(testbed, fake_slack, platform, tmp_path):
    """Twenty incidents opened and acknowledged at once, through Slack and the terminal together."""
    import os
    import subprocess
    import sys

    from tests.support.processes import ROOT

    state = f"sqlite:///{tmp_path}/state.db"
    env = bot_env(testbed, fake_slack, platform, state)
    bot = BotProcess(env, tmp_path / "bot.log").start()
    try:
        tag = uuid.uuid4().hex[:6]

        def slack(i: int) -> int:
            return command(bot, fake_slack, f"incident open P2 burst {tag} {i}")[0]

        def terminal(i: int) -> str:
            out = subprocess.run(
                [sys.executable, "-m", "bot.cli", "incident", "open", "P2", f"terminal {tag} {i}"],
                cwd=ROOT,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            return out.stdout + out.stderr

        with ThreadPoolExecutor(12) as pool:
            slack_runs = pool.map(slack, range(16))
            terminal_runs = pool.map(terminal, range(4))
            assert all(s == 200 for s in slack_runs)
            said = list(terminal_runs)
        assert not any("locked" in s for s in said), said
        for i in range(16):
            fake_slack.wait_for("chat.postMessage", lambda c, i=i: f"burst {tag} {i}" in c.args.get("text", ""), 60)
        replies = " ".join(c.args.get("text", "") for c in fake_slack.called("response_url"))
        assert "locked" not in replies
    finally:
        bot.stop()
    assert "database is locked" not in (tmp_path / "bot.log").read_text()
