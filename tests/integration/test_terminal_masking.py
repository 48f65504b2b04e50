"""The terminal: secrets masked in `alp audit`, `alp --json`; a Redis that refuses INFO is a finding."""

from __future__ import annotations

import asyncio
import json
import uuid

import redis

from escalation.state.audit import AuditLog
from tests.support.processes import alp


def test_alp_audit_masks_parameters_and_results(testbed, tmp_path):
    state = f"sqlite:///{tmp_path}/state.db"

    async def record() -> None:
        store = AuditLog(state)
        await store.record(
            "U0ALICE",
            "requested",
            "set-config",
            {"configmap": "auth-config", "values": {"oauth_endpoint": "https://cli:Pq7-s3cret@auth.example.com"}},
            'dry run: {"client_secret": "Cs-98765"} DB_PASSWORD=Db-12345',
        )
        await store.close()

    asyncio.run(record())
    out = alp("audit", "5", env={**testbed, "ALP_STATE_URL": state})
    assert out.returncode == 0, out.stderr
    assert "set-config" in out.stdout
    for secret in ("Pq7-s3cret", "Cs-98765", "Db-12345"):
        assert secret not in out.stdout


def test_check_redis_against_a_server_denying_info_is_a_finding_not_a_traceback(testbed):
    user, password = f"noinfo{uuid.uuid4().hex[:6]}", "Ni-" + uuid.uuid4().hex[:8]
    admin = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all", "-info"])
    try:
        url = testbed["ALP_REDIS_URL"].replace("redis://", f"redis://{user}:{password}@")
        out = alp("--json", "check", "redis", env={**testbed, "ALP_REDIS_URL": url})
        assert "Traceback" not in out.stderr, out.stderr
        report = json.loads(out.stdout)
        titles = [f["title"] for f in report["findings"]]
        assert any("may not run INFO" in t for t in titles), titles  # the refusal, naming the grant
        assert report["severity"] == "unknown"  # could not see: never OK
        assert password not in out.stdout + out.stderr
    finally:
        admin.acl_deluser(user)
        admin.close()


async def test_a_hostile_running_statement_is_escaped_in_slack_and_masked_everywhere(testbed, platform):
    """The issue's attack, with other words: a query whose comment tries to close the code block
    and mention the channel, carrying a secret, seen by `check deadlocks`."""
    import asyncio

    import psycopg

    from bot.render.report_blocks import render_report
    from bot.render.report_text import render_text
    from tests.support.checks_env import config_for, run

    statement = "SELECT pg_sleep(4) /* ``` <!here> <@U0CEO> x<y & z>w ``` PGPASSWORD=Pg-Hostile-1 */"
    sleeper = await psycopg.AsyncConnection.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True)
    try:
        sleeping = asyncio.create_task(sleeper.execute(statement))
        await asyncio.sleep(1.5)
        cfg = config_for(testbed, platform, "default")
        cfg.thresholds.long_query_s = 1
        report = await run("deadlocks", cfg)
        await sleeping
    finally:
        await sleeper.close()
    blocks = json.dumps(render_report(report).blocks)
    assert "pg_sleep(4)" in blocks  # the statement is shown
    assert "<!here>" not in blocks and "<@U0CEO>" not in blocks
    # shown inert: escaped in mrkdwn, or a zero-width space after `<` in a table block's raw text
    assert "&lt;!here&gt;" in blocks or "<\\u200b!here>" in blocks, blocks
    for section in render_report(report).blocks:
        text = (section.get("text") or {}).get("text", "")
        assert text.count("```") % 2 == 0  # the statement's fences do not close the bot's
    for out in (blocks, render_text(report), report.to_json()):
        assert "Pg-Hostile-1" not in out
