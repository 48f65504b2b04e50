"""Every remediation against the real servers: preview first, then the change itself."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer
from kubernetes import client

import commands.actions
import commands.checks  # noqa: F401
from commands.actions.registry import ACTIONS, ActionContext
from commands.actions.runner import execute, preview, validate
from commands.backends.kafka import KafkaProbe
from commands.backends.kube import RESTARTED_AT
from commands.params import UsageError
from tests.support.checks_env import config_for
from tests.support.k8s_world import PLATFORM
from tests.support.kafka import commit, create_topic, delete_records, produce


async def run(cfg, name: str, **raw):  # type: ignore[no-untyped-def]
    """Preview, then execute: (preview, outcome)."""
    spec = ACTIONS.get(name)
    params = validate(spec, raw)
    ctx = ActionContext(cfg)
    pre = await preview(spec, ctx, params)
    assert pre.refusal is None, pre.refusal
    return pre, await execute(spec, ctx, params, pre)


async def refusal(cfg, name: str, **raw) -> str:  # type: ignore[no-untyped-def]
    spec = ACTIONS.get(name)
    pre = await preview(spec, ActionContext(cfg), validate(spec, raw))
    assert pre.refusal, "expected a refusal"
    return pre.refusal


@pytest.fixture
def cfg(testbed, platform, kube_admin):  # type: ignore[no-untyped-def]
    return config_for(testbed, platform, PLATFORM)


# ---------------------------------------------------------------------- PostgreSQL
async def test_terminate_queries_ends_the_blocker_and_the_blocked_proceeds(cfg, testbed, unique):
    dsn = testbed["ALP_POSTGRES_DSN"]
    admin = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    holder = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    waiter = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    try:
        await admin.execute(f"CREATE TABLE {unique} (id int primary key, v int)")
        await admin.execute(f"INSERT INTO {unique} VALUES (1, 0)")
        holder_pid = (await (await holder.execute("SELECT pg_backend_pid()")).fetchone())[0]
        waiter_pid = (await (await waiter.execute("SELECT pg_backend_pid()")).fetchone())[0]
        await holder.execute("BEGIN")
        await holder.execute(f"UPDATE {unique} SET v = 1 WHERE id = 1")
        blocked = asyncio.create_task(waiter.execute(f"UPDATE {unique} SET v = 2 WHERE id = 1"))
        await asyncio.sleep(0.4)

        pre, outcome = await run(cfg, "terminate-queries", blocking="true")

        assert [i["pid"] for i in pre.items] == [holder_pid]  # only the blocker, not the waiter
        assert outcome.ok and outcome.after["terminated"] == [holder_pid]
        await asyncio.wait_for(blocked, 5)  # the blocked update goes through
        row = await (await admin.execute(f"SELECT v FROM {unique}")).fetchone()
        assert row[0] == 2
        alive = await (
            await admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (waiter_pid,))
        ).fetchone()
        assert alive[0] == 1
    finally:
        for c in (admin, waiter):
            await c.close()
        await holder.close()


async def test_terminate_queries_never_means_all(cfg):
    with pytest.raises(UsageError, match="never all"):
        validate(ACTIONS.get("terminate-queries"), {})
    assert "nothing would be terminated" in await refusal(cfg, "terminate-queries", pids="999999")


async def test_terminate_touches_only_the_previewed_backend(cfg, testbed):
    """A pid reused by a new backend after the preview is left alone."""
    conn = await psycopg.AsyncConnection.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True)
    pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]
    spec = ACTIONS.get("terminate-queries")
    params = validate(spec, {"pids": str(pid)})
    pre = await preview(spec, ActionContext(cfg), params)
    pre.items[0]["backend_start"] = "2001-01-01T00:00:00+00:00"  # as if the pid now belonged to another
    outcome = await execute(spec, ActionContext(cfg), params, pre)
    assert outcome.after["terminated"] == [] and "already gone" in outcome.details[0]
    assert (await (await conn.execute("SELECT 1")).fetchone())[0] == 1
    await conn.close()


async def test_reindex_a_real_table_and_only_allowlisted_ones(cfg, testbed):
    async with await psycopg.AsyncConnection.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS users (id serial primary key, email text unique)")
        await conn.execute(
            "INSERT INTO users (email) SELECT 'u' || g || '@x' FROM generate_series(1, 500) g ON CONFLICT DO NOTHING"
        )
    pre, outcome = await run(cfg, "reindex", table="users")
    assert outcome.ok and "users_pkey" in pre.lines[0] and "users_email_key" in pre.lines[0]
    assert "allowlist" in await refusal(cfg, "reindex", table="pg_class")


# ---------------------------------------------------------------------- Redis
async def test_flush_cache_empties_only_its_database_index(cfg, testbed):
    base = testbed["ALP_REDIS_URL"].rsplit("/", 1)[0]
    mine, other = aioredis.from_url(f"{base}/3"), aioredis.from_url(f"{base}/4")
    await mine.set("user:1", "x")
    await mine.set("user:2", "y")
    await other.set("keep:me", "z")
    cfg.redis_url = f"{base}/3"

    pre, outcome = await run(cfg, "flush-cache")

    assert pre.before == {"keys": 2} and outcome.ok
    assert await mine.dbsize() == 0 and await other.get("keep:me") == b"z"
    assert "only empties the configured database index 3" in await refusal(cfg, "flush-cache", db=4)
    await mine.aclose()
    await other.aclose()


# ---------------------------------------------------------------------- Kafka
async def test_add_partitions_grows_and_refuses_a_decrease(cfg, testbed, unique):
    await create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], unique, 2)
    _, outcome = await run(cfg, "add-partitions", topic=unique, partitions=6)
    async with KafkaProbe(testbed["ALP_KAFKA_BOOTSTRAP"], 3) as kp:
        assert (await kp.topics([unique]))[unique].partitions == 6
    assert outcome.after == {"partitions": 6}
    assert "can only increase" in await refusal(cfg, "add-partitions", topic=unique, partitions=3)
    assert "can only increase" in await refusal(cfg, "add-partitions", topic=unique, partitions=6)


async def test_reset_offsets_moves_an_empty_group_and_refuses_a_live_one(cfg, testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 10, 1: 7})
    await commit(bootstrap, unique, unique, {0: 2, 1: 3})

    pre, outcome = await run(cfg, "reset-offsets", group=unique)

    assert [(i["partition"], i["before"], i["after"]) for i in pre.items] == [(0, 2, 10), (1, 3, 7)]
    async with KafkaProbe(bootstrap, 3) as kp:
        snap = await kp.snapshot([unique])
    assert sorted(snap.groups[unique].offsets.values()) == [7, 10]
    assert outcome.ok

    live = AIOKafkaConsumer(unique, bootstrap_servers=bootstrap, group_id=unique, enable_auto_commit=False)
    await live.start()
    try:
        for _ in range(50):
            if live.assignment():
                break
            await live.getmany(timeout_ms=100)
        reason = await refusal(cfg, "reset-offsets", group=unique)
        assert "1 active member(s)" in reason and "Stop its consumers first" in reason
    finally:
        await live.stop()


async def test_reset_offsets_preview_does_not_count_records_retention_deleted(cfg, testbed, unique):
    """#25: committed 5, log start moved to 15 (DeleteRecords), end 20: the reset skips the 5
    records that still exist; the 10 below the log start were deleted already."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 20})
    await commit(bootstrap, unique, unique, {0: 5})
    await delete_records(bootstrap, unique, {0: 15})

    spec = ACTIONS.get("reset-offsets")
    pre = await preview(spec, ActionContext(cfg), validate(spec, {"group": unique}))

    assert [(i["before"], i["after"], i["skipped"]) for i in pre.items] == [(5, 20, 5)]
    assert "5 message(s) will never be processed" in pre.lines[0], pre.lines
    assert "10 more below the log start were already deleted" in pre.lines[0], pre.lines


async def test_reset_offsets_preview_does_not_count_aborted_records(cfg, testbed, unique):
    """#25 round 3: past the committed offset, an aborted transaction (6 records and its marker),
    then a committed one (2 records and its marker): the reset skips the 2 a read_committed
    consumer would have read, not 10 offsets."""
    from aiokafka import AIOKafkaProducer

    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await commit(bootstrap, unique, unique, {0: 0})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"alp-test-{unique}")
    await producer.start()
    try:
        await producer.begin_transaction()
        for _ in range(6):
            await (await producer.send(unique, b"attempt", partition=0))
        await producer.abort_transaction()
        async with producer.transaction():
            for _ in range(2):
                await (await producer.send(unique, b"attempt", partition=0))
    finally:
        await producer.stop()

    spec = ACTIONS.get("reset-offsets")
    pre = await preview(spec, ActionContext(cfg), validate(spec, {"group": unique}))

    assert [(i["before"], i["after"], i["skipped"]) for i in pre.items] == [(0, 10, 2)]
    assert "2 message(s) will never be processed" in pre.lines[0], pre.lines


# ---------------------------------------------------------------------- Kubernetes
async def test_restart_sets_the_annotation_and_preview_changes_nothing(cfg, kube_admin):
    apps = client.AppsV1Api(kube_admin)
    before = apps.read_namespaced_deployment("auth-service", PLATFORM).spec.template.metadata.annotations or {}
    spec = ACTIONS.get("restart")
    params = validate(spec, {"deployment": "auth-service"})
    pre = await preview(spec, ActionContext(cfg), params)
    assert pre.after[RESTARTED_AT] and pre.target == f"deployment/{PLATFORM}/auth-service"
    same = apps.read_namespaced_deployment("auth-service", PLATFORM).spec.template.metadata.annotations or {}
    assert same.get(RESTARTED_AT) == before.get(RESTARTED_AT)  # the dry run saved nothing
    outcome = await execute(spec, ActionContext(cfg), params, pre)
    now = apps.read_namespaced_deployment("auth-service", PLATFORM).spec.template.metadata.annotations
    assert outcome.ok and now[RESTARTED_AT] == outcome.after[RESTARTED_AT] != before.get(RESTARTED_AT)


async def test_scale_within_bounds_with_undo(cfg, kube_admin):
    apps = client.AppsV1Api(kube_admin)
    cfg.actions.min_replicas = 0  # the test world runs no pods, so the undo goes back to 0
    pre, outcome = await run(cfg, "scale", deployment="scheduler-service", replicas="3")
    assert apps.read_namespaced_deployment_scale("scheduler-service", PLATFORM).spec.replicas == 3
    assert outcome.undo == (
        "scale",
        {"deployment": "scheduler-service", "replicas": pre.before["replicas"], "namespace": PLATFORM},
    )
    await run(cfg, "scale", **{k: str(v) for k, v in outcome.undo[1].items()})
    assert (apps.read_namespaced_deployment_scale("scheduler-service", PLATFORM).spec.replicas or 0) == pre.before[
        "replicas"
    ]
    assert "outside the allowed 0..20" in await refusal(cfg, "scale", deployment="scheduler-service", replicas="50")


async def test_set_config_patches_allowed_keys_only(cfg, kube_admin):
    core = client.CoreV1Api(kube_admin)
    pre, outcome = await run(cfg, "set-config", configmap="auth-config", fallback_enabled="true", cache_ttl="300")
    data = core.read_namespaced_config_map("auth-config", PLATFORM).data
    assert data["fallback_enabled"] == "true" and data["cache_ttl"] == "300"
    assert outcome.undo[0] == "set-config" and outcome.undo[1]["fallback_enabled"] == pre.before["fallback_enabled"]
    await run(cfg, "set-config", **outcome.undo[1])
    assert core.read_namespaced_config_map("auth-config", PLATFORM).data["fallback_enabled"] == "false"
    assert "not allowed" in await refusal(cfg, "set-config", configmap="auth-config", admin_password="x")
    assert "not one set-config may change" in await refusal(cfg, "set-config", configmap="coredns", x="1")


async def test_rollback_and_set_resources(cfg, kube_admin):
    apps = client.AppsV1Api(kube_admin)
    pre, outcome = await run(cfg, "rollback", deployment="scheduler-service", env="ALGORITHM_VERSION", value="v1.0.0")
    c = apps.read_namespaced_deployment("scheduler-service", PLATFORM).spec.template.spec.containers[0]
    assert {e.name: e.value for e in c.env}["ALGORITHM_VERSION"] == "v1.0.0"
    assert pre.before == {"ALGORITHM_VERSION": "v1.1.0"}
    assert outcome.undo == (
        "rollback",
        {"deployment": "scheduler-service", "env": "ALGORITHM_VERSION", "value": "v1.1.0"},
    )
    await run(cfg, "rollback", **outcome.undo[1])
    assert "not a version variable" in await refusal(cfg, "rollback", deployment="ml-service", env="PATH", value="x")

    await run(cfg, "set-resources", deployment="auth-service", cpu="2", memory="4Gi")
    limits = apps.read_namespaced_deployment("auth-service", PLATFORM).spec.template.spec.containers[0].resources.limits
    assert limits == {"cpu": "2", "memory": "4Gi"}
    assert "above the allowed 32Gi" in await refusal(cfg, "set-resources", deployment="auth-service", memory="64Gi")


async def test_kong_block_ips_and_rate_limit(cfg, kube_admin):
    core = client.CoreV1Api(kube_admin)
    await run(cfg, "block-ips", ips="198.51.100.23, 203.0.113.7")
    await run(cfg, "block-ips", ips="203.0.113.7,192.0.2.1")
    assert core.read_namespaced_config_map("kong-config", "kong").data["blocked_ips"].split(",")[-3:] == [
        "198.51.100.23",
        "203.0.113.7",
        "192.0.2.1",
    ]
    pre, _ = await run(cfg, "block-ips", ips="2001:DB8::66 2606:4700:10::6814:1")  # IPv6, as the checks name them
    assert "-> " in str(pre) and "2001:db8::66" in str(pre)
    assert core.read_namespaced_config_map("kong-config", "kong").data["blocked_ips"].split(",")[-2:] == [
        "2001:db8::66",
        "2606:4700:10::6814:1",
    ]
    with pytest.raises(UsageError, match="not an IP address"):
        validate(ACTIONS.get("block-ips"), {"ips": "2001:db8:::66"})
    with pytest.raises(UsageError, match="not an IP address"):
        validate(ACTIONS.get("block-ips"), {"ips": "1.2.3.4,evil;rm"})
    _pre, outcome = await run(cfg, "rate-limit", rate_limit="10", rate_limit_window="60")
    assert core.read_namespaced_config_map("kong-config", "kong").data["rate_limit"] == "10"
    assert outcome.undo and outcome.undo[0] == "rate-limit"


async def test_delete_pod_and_rotate_jwt_key(cfg, kube_admin, ns):
    from tests.support.k8s_world import make_pod

    core = client.CoreV1Api(kube_admin)
    make_pod(kube_admin, ns, "postgres-0", "postgres")
    cfg.platform.infra_namespace = ns
    cfg.namespace = ns
    _, outcome = await run(cfg, "delete-pod", pod="postgres-0")
    assert outcome.ok
    pod = core.list_namespaced_pod(ns).items
    assert not pod or pod[0].metadata.deletion_timestamp is not None
    assert "no pod" in await refusal(cfg, "delete-pod", pod="redis-9")

    core.create_namespaced_secret(
        ns, client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"key": "never-shown"})
    )
    pre, outcome = await run(cfg, "rotate-jwt-key")
    assert "never-shown" not in str(pre) and outcome.ok
    assert not any(s.metadata.name == "jwt-signing-key" for s in core.list_namespaced_secret(ns).items)


async def test_rbac_refusal_is_a_clear_refusal(cfg, kube_admin, tmp_path, monkeypatch):
    """As the bot's ServiceAccount, a restart outside its namespaces is refused by the API server."""
    from tests.support.k8s_world import apply_manifests

    apply_manifests(kube_admin)
    token = (
        client.CoreV1Api(kube_admin)
        .create_namespaced_service_account_token(
            "alp", "alp", client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
        )
        .status.token
    )
    c = kube_admin.configuration
    kubeconfig = tmp_path / "bot.kubeconfig"
    kubeconfig.write_text(
        f"apiVersion: v1\nkind: Config\nclusters: [{{name: t, cluster: {{server: '{c.host}', certificate-authority: '{c.ssl_ca_cert}'}}}}]\n"
        f"users: [{{name: bot, user: {{token: '{token}'}}}}]\ncontexts: [{{name: t, context: {{cluster: t, user: bot}}}}]\n"
        "current-context: t\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    reason = await refusal(cfg, "restart", deployment="coredns", namespace="kube-system")
    assert (
        "the bot's role does not allow `patch deployments/coredns` in namespace kube-system" in reason
        or "the bot's role does not allow `get deployments/coredns` in namespace kube-system" in reason
    )


# ---------------------------------------------------------------------- HTTP admin endpoints
async def test_service_admin_endpoints(cfg, platform):
    platform.admin_posts.clear()
    _, warm = await run(cfg, "warm-cache", service="scheduler-service")
    _, reset = await run(cfg, "reset-user-state", user="user_123")
    _, pw = await run(cfg, "force-password-reset", user_ids="user1,user2")
    assert warm.ok and "HTTP 202" in warm.summary and reset.ok and pw.ok
    assert platform.admin_posts == [
        ("scheduler-service/cache/warm", None),
        ("scheduler-service/users/user_123/reset-state", None),
        ("auth-service/admin/force-password-reset", {"user_ids": ["user1", "user2"]}),
    ]
    with pytest.raises(UsageError):
        validate(ACTIONS.get("reset-user-state"), {"user": "../../etc/passwd"})


def test_every_suggestion_a_check_makes_is_a_valid_action():
    """Checks name remediations as suggestions; each must be a declared action with valid parameters."""
    import inspect
    import re

    import commands.checks as pkg

    sources = "".join(
        inspect.getsource(m)
        for m in (
            pkg.auth,
            pkg.services,
            pkg.db,
            pkg.redis_cache,
            pkg.kafka_lag,
            pkg.network,
            pkg.performance,
            pkg.security,
        )
    )
    named = set(re.findall(r'action="([a-z-]+)"', sources))
    assert named and named <= set(ACTIONS.names()), named - set(ACTIONS.names())
    samples = {
        "scale": {"deployment": "user-service", "replicas": 5},
        "restart": {"deployment": "user-service"},
        "set-config": {"configmap": "auth-config", "fallback_enabled": "true"},
        "reindex": {"table": "users"},
        "terminate-queries": {"pids": "12,13"},
        "reset-offsets": {"group": "user-service", "to": "latest"},
        "add-partitions": {"topic": "user.attempts", "partitions": 12},
        "rollback": {"deployment": "ml-service", "env": "MODEL_VERSION", "value": "v1.2.0"},
        "set-resources": {"statefulset": "postgres", "cpu": "4", "memory": "8Gi"},
        "warm-cache": {"service": "user-service"},
        "reset-user-state": {"user": "user_123"},
        "block-ips": {"ips": "198.51.100.23"},
        "rate-limit": {"rate_limit": "10", "rate_limit_window": "60"},
        "rotate-jwt-key": {},
        "delete-pod": {"namespace": "infrastructure", "pod": "postgres-0"},
    }
    for name in named:
        validate(ACTIONS.get(name), samples[name])


def test_cli_do_previews_then_runs_with_yes(testbed, kube_admin, tmp_path):
    import os
    import subprocess
    import sys

    from tests.support.processes import ROOT

    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/cli.db", "USER": "oncall-dana"}
    core = client.CoreV1Api(kube_admin)
    cli = [sys.executable, "-m", "bot.cli", "do", "set-config", "scheduler-config", "fallback_enabled=true"]
    preview_only = subprocess.run(cli, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert preview_only.returncode == 0 and "-> 'true'" in preview_only.stdout and "--yes" in preview_only.stdout
    assert core.read_namespaced_config_map("scheduler-config", PLATFORM).data["fallback_enabled"] == "false"

    applied = subprocess.run([*cli, "--yes"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert applied.returncode == 0 and "done: patched configmap scheduler-config" in applied.stdout
    assert "undo: alp do set-config configmap=scheduler-config fallback_enabled=false --yes" in applied.stdout
    assert core.read_namespaced_config_map("scheduler-config", PLATFORM).data["fallback_enabled"] == "true"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "do",
            "set-config",
            "configmap=scheduler-config",
            "fallback_enabled=false",
            "--yes",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    audit = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "10"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    ).stdout
    assert "oncall-dana outcome set-config" in audit and "oncall-dana dry-run set-config" in audit

    refused = subprocess.run(
        [sys.executable, "-m", "bot.cli", "do", "scale", "user-service", "99", "--yes"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "outside the allowed" in refused.stderr
