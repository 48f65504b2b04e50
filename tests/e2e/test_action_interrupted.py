"""Issue #22, observation 4: a remediation whose bot is SIGKILLed mid-run does not stay `running`
for ever. Two real alp-bot replicas on one PostgreSQL state store; the service's admin endpoint
hangs, so the kill lands while the action runs."""

from __future__ import annotations

import json

import psycopg
import pytest
import redis

from tests.support.bot_env import ACTIONS_ENV, bot_env
from tests.support.escalation import leader_pid
from tests.support.k8s_world import SERVICES
from tests.support.processes import BotProcess, kill, wait
from tests.support.signing import block_action
from tests.support.slack_requests import blocks_text, click, command


def audit_events(dsn: str, action: str) -> list[tuple[str, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT actor, event FROM alp_audit WHERE action = %s ORDER BY id", (action,))
        return [(r[0], r[1]) for r in rows]


def request_status(dsn: str, request_id: int) -> str:
    with psycopg.connect(dsn) as conn:
        return str(conn.execute("SELECT status FROM alp_action_requests WHERE id = %s", (request_id,)).fetchone()[0])


def confirmation(fake_slack, after: int):  # type: ignore[no-untyped-def]
    """The newest warm-cache confirmation posted after call number `after`, and its Confirm button."""

    def find():  # type: ignore[no-untyped-def]
        calls = fake_slack.called("chat.postMessage")[after:]
        return next((c for c in calls if c.args.get("text", "").startswith("Confirm: warm-cache")), None)

    wait(lambda: find() is not None, 10)
    msg = find()
    buttons = {e["action_id"]: e["value"] for b in msg.args["blocks"] if b["type"] == "actions" for e in b["elements"]}
    return msg, buttons["alp_action_confirm"]


def updates_of(fake_slack, msg) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        c.args.get("text", "") + blocks_text(c.args.get("blocks", []))
        for c in fake_slack.called("chat.update")
        if c.args.get("ts") == msg.response["ts"]
    ]


@pytest.mark.slow
def test_a_remediation_killed_mid_run_is_marked_interrupted_unlocked_verified_and_can_run_again(
    testbed, fake_slack, platform, pg_state
):
    services = [{"name": n, "port": p, "url": f"{platform.base}/svc/{n}"} for n, p in SERVICES.items()]
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        pg_state,
        **ACTIONS_ENV,
        ALP_PLATFORM__SERVICES=json.dumps(services),
        ALP_ACTIONS__RUN_LEASE_S="1.5",
    )
    a, b = BotProcess(env).start(), BotProcess(env).start()
    lock = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    lock.delete("alp:lock:http/scheduler-service")
    try:
        wait(lambda: leader_pid(pg_state) in (a.proc.pid, b.proc.pid), 10)  # type: ignore[union-attr]
        runner, other = (a, b) if leader_pid(pg_state) == a.proc.pid else (b, a)  # type: ignore[union-attr]
        platform.admin_delay_s = 60  # the warm-up hangs: the action is mid-run when its bot dies
        seen = len(fake_slack.called("chat.postMessage"))
        command(runner, fake_slack, "do warm-cache", user="U0ALICE")
        msg, confirm = confirmation(fake_slack, seen)
        posts = len(platform.admin_posts)
        click(runner, block_action("alp_action_confirm", confirm, user="U0ALICE"))
        wait(lambda: len(platform.admin_posts) == posts + 1, 10)
        kill(runner)  # mid-run, holding the target lock, the leader too
        platform.admin_delay_s = 0

        wait(lambda: any("interrupted" in u for u in updates_of(fake_slack, msg)), 15)
        with psycopg.connect(pg_state) as conn:
            request_id, status = conn.execute(
                "SELECT id, status FROM alp_action_requests WHERE action = 'warm-cache' ORDER BY id DESC"
            ).fetchone()
        assert status == "interrupted"
        events = [e for _, e in audit_events(pg_state, "warm-cache")]
        assert events[:2] == ["dry-run", "requested"] and events[2:5] == ["confirmed", "started", "interrupted"], events
        assert lock.get("alp:lock:http/scheduler-service") is None  # released at once, not after its 300 s TTL
        fake_slack.wait_for(
            "chat.postMessage",
            lambda c: (
                c.args.get("thread_ts") == msg.response["ts"] and c.args.get("text", "").startswith("After warm-cache")
            ),
        )

        seen = len(fake_slack.called("chat.postMessage"))
        command(other, fake_slack, "do warm-cache", user="U0ALICE")  # the retry, at once
        again, confirm = confirmation(fake_slack, seen)
        click(other, block_action("alp_action_confirm", confirm, user="U0ALICE"))
        wait(lambda: any("HTTP 202" in u for u in updates_of(fake_slack, again)), 10)
        assert request_status(pg_state, request_id) == "interrupted"
    finally:
        platform.admin_delay_s = 0
        a.stop()
        b.stop()
