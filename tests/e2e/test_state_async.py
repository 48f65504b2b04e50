"""Issue #13: with ALP_STATE_URL on PostgreSQL, a state-store call that waits on the database must not
hold up the rest of the bot. Another session holds a lock on the incident's row, so the bot's write
waits; meanwhile a slash command is acked (Slack's budget is 3 s) and other HTTP endpoints answer."""

from __future__ import annotations

import urllib.request
import uuid

import psycopg
import pytest

from tests.support.bot_env import SIGNING_SECRET, bot_env, opened_ref
from tests.support.processes import BotProcess, wait
from tests.support.signing import block_action, signed_headers, slash_command
from tests.support.slack_requests import SLACK_ACK_BUDGET_S, command, in_background, post


def waiting_on_lock(dsn: str) -> bool:
    """Whether some other session is blocked on a lock (the bot's write behind our row lock)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ).fetchone()
    return bool(row and row[0])


def ack_click(bot: BotProcess, n: int) -> object:
    body = block_action("incident_ack", str(n), user="U0BOB")
    return post(bot, body, signed_headers(SIGNING_SECRET, body))


def resolve_command(bot: BotProcess, fake_slack, n: int) -> object:  # type: ignore[no-untyped-def]
    return command(bot, fake_slack, f"incident resolve {n}", user="U0BOB")


def healthz(bot: BotProcess) -> object:
    with urllib.request.urlopen(f"{bot.url}/healthz", timeout=10) as resp:
        return resp.status


@pytest.mark.slow
@pytest.mark.parametrize("blocked", ["ack button", "resolve command"])
def test_a_store_write_waiting_on_postgresql_does_not_hold_up_other_requests(
    blocked, testbed, fake_slack, platform, pg_state
):
    bot = BotProcess(bot_env(testbed, fake_slack, platform, pg_state)).start()
    try:
        summary = f"async store {uuid.uuid4().hex[:6]}"
        command(bot, fake_slack, f"incident open P2 {summary}")
        n = int(opened_ref(fake_slack, summary)[4:])
        with psycopg.connect(pg_state) as locker:
            locker.execute("SELECT id FROM alp_incidents WHERE id = %s FOR UPDATE", (n,))
            write, _ = in_background(
                (lambda: ack_click(bot, n))
                if blocked == "ack button"
                else (lambda: resolve_command(bot, fake_slack, n))
            )
            wait(lambda: waiting_on_lock(pg_state), 10)  # the bot's UPDATE waits behind our lock
            body = slash_command("help", fake_slack.response_url("meanwhile"))
            help_cmd, answered = in_background(lambda: post(bot, body, signed_headers(SIGNING_SECRET, body)))
            health, healthy = in_background(lambda: healthz(bot))
            help_cmd.join(SLACK_ACK_BUDGET_S)
            health.join(1.0)
            acked_while_locked, health_while_locked = list(answered), list(healthy)
            locker.rollback()  # let the waiting write through
        help_cmd.join(15)
        write.join(15)
        assert acked_while_locked and acked_while_locked[0][0] == 200, "the slash command waited on the lock"  # type: ignore[index]
        assert health_while_locked == [200], "/healthz waited on the lock"
        # and the write that waited is not lost
        status = "acknowledged" if blocked == "ack button" else "resolved"
        with psycopg.connect(pg_state) as conn:
            wait(
                lambda: conn.execute("SELECT status FROM alp_incidents WHERE id = %s", (n,)).fetchone() == (status,),
                10,
            )
    finally:
        bot.stop()
