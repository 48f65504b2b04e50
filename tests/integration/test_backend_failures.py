"""Backend failures against the real servers: every wrapper in commands/backends/ raises the one
BackendError naming the backend, and probes and actions turn it into a clear answer that names
the backend (never a generic message, never a logged traceback).

Each kind is met for real: a closed port, a refused login, a command the server refuses.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from kubernetes import client

import commands.actions  # noqa: F401  (registers the actions)
from commands.actions.registry import ACTIONS, ActionContext
from commands.actions.runner import execute, preview, validate
from commands.backends.kafka import KafkaProbe
from commands.backends.postgres import connect, query
from commands.config import ChecksConfig
from commands.probes import run_probes
from commands.registry import CheckContext
from commands.report import Finding, Severity
from tests.support.checks_env import CLOSED, config_for
from tests.support.kafka import create_topic


@pytest.fixture
def cfg(testbed, platform):  # type: ignore[no-untyped-def]
    return config_for(testbed, platform, "default")


@pytest.fixture
async def redis_user(testbed) -> AsyncIterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """A Redis ACL user that may read but not FLUSHDB: (url with its password, url with a wrong one)."""
    user, password = f"noflush{uuid.uuid4().hex[:6]}", "Nf-" + uuid.uuid4().hex[:8]
    admin = aioredis.from_url(testbed["ALP_REDIS_URL"])
    await admin.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"], commands=["+@all", "-flushdb"])
    base = testbed["ALP_REDIS_URL"].removeprefix("redis://")
    yield f"redis://{user}:{password}@{base}", f"redis://{user}:not-{password}@{base}"
    await admin.acl_deluser(user)
    await admin.aclose()


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


async def _preview_refusal(cfg: ChecksConfig, name: str, **raw: Any) -> str:
    spec = ACTIONS.get(name)
    pre = await preview(spec, ActionContext(cfg), validate(spec, raw))
    assert pre.refusal, pre.lines
    return pre.refusal


# ---------------------------------------------------------------------- actions: Redis was a generic error
async def test_an_action_meeting_a_down_redis_names_redis_without_a_traceback(cfg, caplog):
    cfg.redis_url = f"redis://{CLOSED}/0"
    with caplog.at_level(logging.ERROR):
        refusal = await _preview_refusal(cfg, "flush-cache")
    assert refusal.startswith("cannot preview flush-cache: ") and "Redis" in refusal, refusal
    assert "Connection refused" in refusal or "111" in refusal, refusal
    assert not _tracebacks(caplog), _tracebacks(caplog)


async def test_an_action_with_refused_redis_credentials_names_redis(cfg, redis_user, caplog):
    _, wrong = redis_user
    cfg.redis_url = wrong
    with caplog.at_level(logging.ERROR):
        refusal = await _preview_refusal(cfg, "flush-cache")
    assert "Redis" in refusal and ("WRONGPASS" in refusal or "invalid username-password" in refusal), refusal
    assert "not-Nf-" not in refusal  # the password is never shown
    assert not _tracebacks(caplog), _tracebacks(caplog)


async def test_a_command_redis_refuses_fails_the_action_naming_redis(cfg, redis_user):
    allowed, _ = redis_user
    cfg.redis_url = allowed
    spec = ACTIONS.get("flush-cache")
    ctx = ActionContext(cfg)
    params = validate(spec, {})
    pre = await preview(spec, ctx, params)  # DBSIZE is allowed
    assert pre.refusal is None, pre.refusal
    outcome = await execute(spec, ctx, params, pre)
    assert not outcome.ok
    assert outcome.summary.startswith("flush-cache failed: Redis") and "flushdb" in outcome.summary.lower()


# ---------------------------------------------------------------------- probes: refused answers misread
async def test_a_statement_postgresql_refuses_in_a_probe_is_one_unknown_finding_naming_it(cfg, caplog):
    async def probe() -> list[Finding]:
        async with connect(cfg.postgres_dsn, 3) as conn:
            await query(conn, "SELECT * FROM alp_no_such_table")
        return [Finding(severity=Severity.OK, title="read")]

    with caplog.at_level(logging.ERROR):
        [f] = await run_probes(CheckContext(cfg), {"tables": probe})
    assert f.severity is Severity.UNKNOWN  # nothing was read: never OK, and nothing is known broken
    assert f.title == "tables: PostgreSQL refused the command" and "alp_no_such_table" in (f.detail or "")
    assert not _tracebacks(caplog), _tracebacks(caplog)


async def test_a_request_kafka_refuses_in_a_probe_is_not_an_unreachable_broker(cfg, unique):
    topic = f"refuse-{unique}"
    await create_topic(cfg.kafka_bootstrap, topic, 2)

    async def probe() -> list[Finding]:
        async with KafkaProbe(cfg.kafka_bootstrap, 3) as kp:
            await kp.create_partitions(topic, 1)  # Kafka never shrinks a topic: the broker says no
        return [Finding(severity=Severity.OK, title="grown")]

    [f] = await run_probes(CheckContext(cfg), {"partitions": probe})
    assert "unreachable" not in f.title and f.severity is Severity.UNKNOWN, f
    assert f.title == "partitions: Kafka refused the command" and "InvalidPartitions" in (f.detail or "")


# ---------------------------------------------------------------------- the one error type, per backend
async def test_postgresql_failures_are_backend_errors_of_their_kind(testbed):
    from commands.backends.errors import BackendError, BackendLoginRefused, BackendRefused, BackendUnreachable

    with pytest.raises(BackendUnreachable) as down:
        async with connect(f"postgresql://postgres@{CLOSED}/x", 2):
            pass
    assert down.value.backend == "PostgreSQL" and down.value.address == CLOSED and down.value.operation == "connect"
    dsn = testbed["ALP_POSTGRES_DSN"]
    async with connect(dsn, 2) as conn:
        user = (await query(conn, "SELECT current_user AS u"))[0]["u"]
        role = f"alp_login_{uuid.uuid4().hex[:6]}"
        await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-one'")
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        bad = make_conninfo(**{**conninfo_to_dict(dsn), "user": role, "password": "wrong-one"})
        with pytest.raises(BackendLoginRefused) as login:
            async with connect(bad, 2):
                pass
        assert login.value.backend == "PostgreSQL" and login.value.user == role
        assert "wrong-one" not in str(login.value)
        with pytest.raises(BackendRefused) as refused:
            async with connect(dsn, 2) as conn:
                await conn.execute(f"SET ROLE {role}_missing")
        assert refused.value.backend == "PostgreSQL" and "does not exist" in refused.value.reason
    finally:
        async with connect(dsn, 2) as conn:
            await conn.execute(f"DROP ROLE {role}")
    assert isinstance(login.value, BackendError) and user


async def test_redis_failures_are_backend_errors_of_their_kind(redis_user):
    from commands.backends import redis
    from commands.backends.errors import BackendLoginRefused, BackendRefused, BackendUnreachable

    allowed, wrong = redis_user
    with pytest.raises(BackendUnreachable) as down:
        async with redis.connect(f"redis://{CLOSED}/0", 2) as r:
            await r.ping()
    assert down.value.backend == "Redis"
    with pytest.raises(BackendLoginRefused) as login:
        async with redis.connect(wrong, 2) as r:
            await r.ping()
    assert login.value.backend == "Redis" and login.value.user == allowed.split("//")[1].split(":")[0]
    with pytest.raises(BackendRefused) as refused:
        async with redis.connect(allowed, 2) as r:
            await r.flushdb()
    assert refused.value.backend == "Redis" and "flushdb" in refused.value.reason.lower()


async def test_kafka_failures_are_backend_errors_of_their_kind(testbed, unique):
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from commands.backends.errors import BackendRefused, BackendUnreachable
    from commands.backends.kafka import commit_offsets
    from tests.support.kafka import produce

    with pytest.raises(BackendUnreachable) as down:
        async with KafkaProbe(CLOSED, 2):
            pass
    assert down.value.backend == "Kafka" and down.value.address == CLOSED and down.value.operation == "connect"
    with pytest.raises(BackendUnreachable) as down:
        await commit_offsets(CLOSED, f"g-{unique}", {TopicPartition("t", 0): 1}, 2)
    assert down.value.backend == "Kafka"
    bootstrap, topic, group = testbed["ALP_KAFKA_BOOTSTRAP"], f"commit-{unique}", f"g-{unique}"
    await create_topic(bootstrap, topic, 1)
    await produce(bootstrap, topic, {0: 2})
    member = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest")
    await member.start()
    try:
        await member.getmany(timeout_ms=3000)  # joined: the group now has a live member
        with pytest.raises(BackendRefused) as refused:  # Kafka takes no commit from outside a live group
            await commit_offsets(bootstrap, group, {TopicPartition(topic, 0): 2}, 3)
    finally:
        await member.stop()
    assert refused.value.backend == "Kafka" and refused.value.operation == f"commit offsets of {group}"
    assert "CommitFailedError" in refused.value.reason


async def test_kubernetes_failures_are_backend_errors_of_their_kind(kube_admin):
    import socket

    from commands.backends.errors import BackendRefused, BackendUnreachable
    from commands.backends.kube import Kube

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        conf = client.Configuration()
        conf.host = f"https://127.0.0.1:{s.getsockname()[1]}"
        with pytest.raises(BackendUnreachable) as down:
            await Kube(2, conf).list_pods(None)
    assert down.value.backend == "Kubernetes" and "list pods" in down.value.operation
    kube = Kube(3)
    try:
        with pytest.raises(BackendRefused) as missing:
            await kube.get_deployment("default", f"no-such-{uuid.uuid4().hex[:6]}")
        assert missing.value.backend == "Kubernetes" and "not found" in str(missing.value)
    finally:
        kube.close()


async def test_an_admin_call_to_a_closed_port_is_unreachable_naming_the_service():
    from commands.backends.errors import BackendUnreachable
    from commands.backends.http import AdminClient

    with pytest.raises(BackendUnreachable) as down:
        async with AdminClient("auth-service", f"http://{CLOSED}", 2) as admin:
            await admin.post("/admin/force-password-reset", {"user_ids": ["u1"]})
    assert down.value.backend == "auth-service" and down.value.operation == "POST /admin/force-password-reset"
