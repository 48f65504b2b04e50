"""Issue #22, observation 4: a remediation whose bot is SIGKILLed mid-run does not stay `running`
for ever. Two real alp-bot replicas on one PostgreSQL state store; the service's admin endpoint
hangs, so the kill lands while the action runs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import redis

from commands.actions.flow import RemediationFlow
from commands.actions.locks import TargetLock
from commands.actions.registry import Risk
from commands.actions.request import Status
from tests.checks_env import config_for
from tests.conftest import ACTIONS_ENV, BotProcess
from tests.k8s_world import PLATFORM, SERVICES
from tests.slack_signing import block_action
from tests.test_action_flow import People, Seen, audit_rows, logs, requested
from tests.test_escalation_processes import bot_env, kill, leader_pid, pg_state, wait
from tests.test_slack import blocks_text, command
from tests.test_slack_actions import click

__all__ = ["logs", "pg_state"]  # fixtures, shared


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


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return request.getfixturevalue("pg_state")


async def test_a_run_vouched_for_is_left_alone_and_a_dead_one_is_recovered_once(testbed, platform, state_url, logs):
    """The flow's side, on SQLite and PostgreSQL: while an action runs (longer than its run lease),
    the leader's recovery passes leave it alone; a run whose process stopped vouching is
    interrupted once by two leaders recovering at the same moment, and its lock released."""
    cfg = config_for(testbed, platform, PLATFORM, actions={"run_lease_s": 1.0})
    people = People(U0ALICE=Risk.SAFE)
    seen, leader_seen = Seen(), Seen()
    flow = RemediationFlow(cfg, logs(state_url), people, seen)
    leader = RemediationFlow(cfg, logs(state_url), people, leader_seen)
    req = await requested(flow, "U0ALICE")
    platform.admin_delay_s = 3
    try:
        run = asyncio.create_task(flow.confirm(req.id, "U0ALICE"))
        while not run.done():
            assert await leader.recover_interrupted() == 0
            await asyncio.sleep(0.1)
    finally:
        platform.admin_delay_s = 0
    assert run.result().status is Status.DONE  # type: ignore[union-attr]

    dead = await requested(flow, "U0ALICE")
    lock = TargetLock(cfg, dead.target, f"U0ALICE#{dead.id}")
    assert await lock.acquire() is None
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert await flow.log.move(
        dead.id, (Status.PENDING,), Status.RUNNING, confirmed_by="U0ALICE", run_by="gone-1", run_until=past
    )
    counts = await asyncio.gather(leader.recover_interrupted(), flow.recover_interrupted())
    assert sorted(counts) == [0, 1]
    assert (await flow.log.get(dead.id)).status is Status.INTERRUPTED  # type: ignore[union-attr]
    assert await lock.acquire() is None  # released: a retry may take it at once
    await lock.release()
    events = [e for e in leader_seen.events + seen.events if e[1] == dead.id and e[0] in ("interrupted", "verified")]
    assert sorted(e[0] for e in events) == ["interrupted", "verified"]
    trail = [e for a, e, act, r in await audit_rows(state_url) if f"#{dead.id}" in r]
    assert trail == ["requested", "interrupted"]
