"""Issue #13 (backend errors): the state store at ALP_STATE_URL down or refusing the bot's password
is an answer naming it, never a traceback, in the terminal's commands that read it."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.support.bot_env import SIGNING_SECRET, bot_env, opened_ref
from tests.support.processes import BotProcess, alp
from tests.support.scenario_world import wait
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_requests import SLACK_ACK_BUDGET_S, command, in_background, post


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def state_urls(testbed: dict[str, str]) -> list[str]:
    wrong_password = testbed["ALP_POSTGRES_DSN"].replace("alp-testbed-pw", "Wr0ng-pw-42")
    return [f"postgresql://alp:S3cret-pw@127.0.0.1:{closed_port()}/alp", wrong_password]


@pytest.mark.parametrize(
    "words", [["incident", "list"], ["--json", "incident", "list"], ["audit"], ["incident", "ack", "3"]]
)
def test_a_state_store_down_or_refusing_the_password_is_named_without_a_traceback(testbed, words):
    for url in state_urls(testbed):
        out = alp(*words, env={"ALP_STATE_URL": url})
        said = out.stdout + out.stderr
        assert out.returncode not in (0, 2), said
        assert "Traceback" not in said, said
        assert "state store" in said and "PostgreSQL" in said, said
        assert "S3cret-pw" not in said and "Wr0ng-pw-42" not in said, said


def refuse_connections(pg_state: str, refuse: bool) -> None:
    """The state database stops (or starts again) taking connections, and the bot's are cut: a
    PostgreSQL restart as the bot sees it, without stopping the test bed's server."""
    admin, name = pg_state.rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS {'false' if refuse else 'true'}")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))


def replies(fake_slack, rid: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.args.get("text", "") for c in fake_slack.called("response_url") if c.args["rid"] == rid]


def slash(bot: BotProcess, fake_slack, text: str, rid: str) -> object:  # type: ignore[no-untyped-def]
    body = slash_command(text, fake_slack.response_url(rid), user="U0BOB")
    return post(bot, body, signed_headers(SIGNING_SECRET, body))


@pytest.mark.slow
def test_slack_commands_meeting_a_state_store_down_name_it_and_work_again_after(
    testbed, fake_slack, platform, pg_state, tmp_path
):
    env = bot_env(testbed, fake_slack, platform, pg_state, ALP_ACTIONS__PERMISSIONS='{"disruptive": ["*"]}')
    bot = BotProcess(env, tmp_path / "bot.log").start()
    try:
        summary = f"store down {uuid.uuid4().hex[:6]}"
        command(bot, fake_slack, f"incident open P2 {summary}")
        n = int(opened_ref(fake_slack, summary)[4:])
        refuse_connections(pg_state, True)
        # each word three times: Bolt's 404 for a listener failing right after its ack is a race
        words = 3 * ["incident list", f"incident ack {n}", f"incident show {n}", "audit", "do scale user-service 2"]
        for i, text in enumerate(words):
            assert slash(bot, fake_slack, text, f"down{i}")[0] == 200, text  # type: ignore[index]
        for i, text in enumerate(words):
            said = wait(lambda i=i: replies(fake_slack, f"down{i}"), 15)[0]
            assert "state store" in said and "PostgreSQL" in said, (text, said)
        refuse_connections(pg_state, False)
        slash(bot, fake_slack, "incident list", "after")
        assert summary in wait(lambda: replies(fake_slack, "after"), 15)[0]
    finally:
        bot.stop()


@pytest.mark.slow
def test_audit_is_acked_while_its_table_is_locked_and_answered_after(testbed, fake_slack, platform, pg_state):
    bot = BotProcess(bot_env(testbed, fake_slack, platform, pg_state)).start()
    try:
        with psycopg.connect(pg_state) as locker:
            locker.execute("LOCK TABLE alp_audit IN ACCESS EXCLUSIVE MODE")
            sent, answered = in_background(lambda: slash(bot, fake_slack, "audit", "locked"))
            sent.join(SLACK_ACK_BUDGET_S)
            acked_while_locked = list(answered)
            locker.rollback()
        sent.join(15)
        assert acked_while_locked and acked_while_locked[0][0] == 200, "/alp audit waited on the database to ack"  # type: ignore[index]
        assert "audit log is empty" in wait(lambda: replies(fake_slack, "locked"), 15)[0]
    finally:
        bot.stop()


@pytest.fixture
def kube_down(testbed, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """KUBECONFIG pointing at a closed port, the rest of it the test bed's."""
    kubeconfig = tmp_path / "kubeconfig"
    text = Path(testbed["KUBECONFIG"]).read_text()
    kubeconfig.write_text(re.sub(r"server: https://[^\s]+", f"server: https://127.0.0.1:{closed_port()}", text))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))


async def test_changes_unread_because_kubernetes_is_down_are_unknown_not_ok(testbed, platform, kube_down):
    """The "what changed" line every critical report carries: with the Kubernetes API down it read
    nothing, so "No changes seen" is not OK but UNKNOWN, naming Kubernetes."""
    from commands.changes import recent_changes_finding
    from commands.report import Severity
    from tests.support.checks_env import config_for

    finding = await recent_changes_finding(config_for(testbed, platform, "default"))
    assert finding.severity is Severity.UNKNOWN, finding
    assert "Kubernetes" in finding.title, finding


@pytest.mark.slow
def test_two_replicas_on_postgresql_hearing_one_group_open_one_incident(testbed, fake_slack, platform, pg_state):
    """Two bots over one PostgreSQL state store get the same alert groups at the same moment
    (Alertmanager's HA peers): one message and one incident per group, as on SQLite."""
    import json
    import threading

    from tests.support import alertmanager as am
    from tests.support.alertmanager import ROUTES, group_posts, incidents
    from tests.support.processes import wait_until

    env = bot_env(
        testbed,
        fake_slack,
        platform,
        pg_state,
        ALP_ALERTMANAGER__WEBHOOK_TOKEN=am.TOKEN,
        ALP_ALERTMANAGER__ROUTES=json.dumps(ROUTES),
        ALP_ALERTMANAGER__POST_RATE_PER_S="10",
        ALP_KAFKA_LAG__WATCH_INTERVAL_S="0",
    )
    bots = [BotProcess(env).start(), BotProcess(env).start()]
    try:
        names = [f"RedisPair{uuid.uuid4().hex[:6]}" for _ in range(4)]
        threads = []
        for name in names:
            body = json.dumps(am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name}}])).encode()
            threads += [threading.Thread(target=am.post_webhook, args=(b.url, body, am.TOKEN)) for b in bots]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for name in names:
            wait_until(lambda name=name: group_posts(fake_slack, name), timeout=30)
        time.sleep(5)  # the other replica's check finishes too
        opened = incidents(bots[0])
        for name in names:
            assert len(group_posts(fake_slack, name)) == 1, name
            assert len([i for i in opened if name in i["summary"]]) == 1, name
    finally:
        for b in bots:
            b.stop()


@pytest.mark.parametrize(
    ("action", "raw", "over"),
    [
        ("add-partitions", {"topic": "user.events", "partitions": 4}, {"kafka_bootstrap": "127.0.0.1:1"}),
        ("reset-offsets", {"group": "user-service"}, {"kafka_bootstrap": "127.0.0.1:1"}),
        ("flush-cache", {}, {"redis_url": "redis://127.0.0.1:1/0"}),
        ("reindex", {"table": "users"}, {"postgres_dsn": "postgresql://postgres:x@127.0.0.1:1/adaptive_learning"}),
    ],
)
async def test_an_action_meeting_a_closed_port_names_its_backend_as_a_word(testbed, platform, action, raw, over):
    """ "KafkaConnectionError" is a class name, not the backend named: the refusal says "Kafka" (or
    Redis, PostgreSQL) as a word, as an engineer reads it."""
    import commands.actions  # noqa: F401  (registers the actions)
    from commands.actions.registry import ACTIONS, ActionContext
    from commands.actions.runner import preview, validate
    from tests.support.checks_env import config_for

    spec = ACTIONS.get(action)
    assert spec is not None
    pre = await preview(spec, ActionContext(config_for(testbed, platform, "default", **over)), validate(spec, raw))
    backend = {"kafka_bootstrap": "Kafka", "redis_url": "Redis", "postgres_dsn": "PostgreSQL"}[next(iter(over))]
    assert pre.refusal and re.search(rf"\b{backend}\b", pre.refusal), pre.refusal


def test_the_bot_starting_on_a_state_store_down_says_so_in_one_line(testbed, fake_slack):
    import subprocess
    import sys

    from tests.support.bot_env import BOT_TOKEN
    from tests.support.processes import ROOT

    url = f"postgresql://alp:S3cret-pw@127.0.0.1:{closed_port()}/alp"
    env = {**testbed, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "ALP_STATE_URL": url}
    out = subprocess.run(
        [sys.executable, "-m", "bot.server"],
        cwd=ROOT,
        env={**os.environ, **env, "SLACK_API_URL": fake_slack.api_url, "ALP_HTTP_PORT": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    assert "state store" in out.stderr and "PostgreSQL" in out.stderr and "S3cret-pw" not in out.stderr


@pytest.mark.slow
def test_incident_buttons_meeting_a_state_store_down_name_it(testbed, fake_slack, platform, pg_state):
    """Each click is answered naming the state store; none falls through to "This button is not one
    alp knows" (Bolt's runner lost the ack of a listener failing right after it, and ran the next one)."""
    from tests.support.signing import block_action

    bot = BotProcess(bot_env(testbed, fake_slack, platform, pg_state)).start()
    try:
        summary = f"buttons {uuid.uuid4().hex[:6]}"
        command(bot, fake_slack, f"incident open P2 {summary}")
        n = int(opened_ref(fake_slack, summary)[4:])
        refuse_connections(pg_state, True)
        clicks = 3 * ["incident_ack", "incident_resolve", "incident_escalate"]
        for i, kind in enumerate(clicks):
            body = block_action(kind, str(n), user="U0BOB", response_url=fake_slack.response_url(f"click{i}"))
            assert post(bot, body, signed_headers(SIGNING_SECRET, body))[0] == 200, kind
        for i, kind in enumerate(clicks):
            said = wait(lambda i=i: replies(fake_slack, f"click{i}"), 15)
            assert all("state store" in s for s in said), (kind, said)
    finally:
        bot.stop()
