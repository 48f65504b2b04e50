"""deadlocks, db-load, db-connectivity and redis against the real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
import redis.asyncio as aioredis
from kubernetes import client

from commands.report import Severity
from tests.support.checks_env import actions, config_for, finding, run
from tests.support.k8s_world import make_pod


@pytest.fixture
async def pg(testbed):
    conns: list[psycopg.AsyncConnection] = []

    async def connect() -> psycopg.AsyncConnection:
        conn = await psycopg.AsyncConnection.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True)
        conns.append(conn)
        return conn

    yield connect
    for c in conns:
        await c.close()


async def test_deadlocks_names_both_pids_and_queries(testbed, platform, pg, unique):
    admin = await pg()
    await admin.execute(f"CREATE TABLE {unique} (id int primary key, v int)")
    await admin.execute(f"INSERT INTO {unique} VALUES (1, 0)")
    holder, waiter = await pg(), await pg()
    holder_pid = (await (await holder.execute("SELECT pg_backend_pid()")).fetchone())[0]
    waiter_pid = (await (await waiter.execute("SELECT pg_backend_pid()")).fetchone())[0]
    await holder.execute("BEGIN")
    await holder.execute(f"UPDATE {unique} SET v = 1 WHERE id = 1")
    waiting = asyncio.create_task(waiter.execute(f"UPDATE {unique} SET v = 2 WHERE id = 1 /* waiter */"))
    await asyncio.sleep(0.5)

    report = await run("deadlocks", config_for(testbed, platform, "default"))

    locks = finding(report, "waiting on locks")
    assert locks.severity is Severity.CRITICAL
    [row] = [r for r in report.data["blocked"] if r["blocked_pid"] == waiter_pid]
    assert row["blocking_pid"] == holder_pid
    assert "/* waiter */" in row["blocked_query"] and f"UPDATE {unique} SET v = 1" in row["blocking_query"]
    terminate = next(s for s in locks.suggestions if s.action == "terminate-queries")
    assert str(holder_pid) in str(terminate.params["pids"]).split(",")

    await holder.execute("ROLLBACK")
    await waiting
    after = await run("deadlocks", config_for(testbed, platform, "default"))
    assert finding(after, "No backend is waiting on a lock").severity is Severity.OK


async def test_long_running_query_is_reported(testbed, platform, pg):
    sleeper = await pg()
    pid = (await (await sleeper.execute("SELECT pg_backend_pid()")).fetchone())[0]
    sleeping = asyncio.create_task(sleeper.execute("SELECT pg_sleep(4) /* long one */"))
    await asyncio.sleep(1.5)
    cfg = config_for(testbed, platform, "default")
    cfg.thresholds.long_query_s = 1

    report = await run("deadlocks", cfg)

    long = finding(report, "active longer than 1s")
    assert long.severity is Severity.WARNING
    assert any(r["pid"] == pid and "long one" in r["query"] for r in report.data["long_running"])
    assert str(pid) in str(next(s for s in long.suggestions if s.action == "terminate-queries").params["pids"])
    await sleeping
    cfg.thresholds.long_query_s = 60
    assert finding(await run("deadlocks", cfg), "No active query older than 60s").severity is Severity.OK


async def test_db_load_statistics_statements_and_connections(testbed, platform, pg, unique):
    conn = await pg()
    await conn.execute(f"CREATE TABLE {unique} (id int)")  # its own table: its own pg_stat_statements entry
    cfg = config_for(testbed, platform, "default")
    cfg.thresholds.rate_window_s = 1.0
    cfg.thresholds.db_min_block_reads = 1

    checking = asyncio.ensure_future(run("db-load", cfg))

    async def busy() -> None:  # statements that run during the window (until the check is done:
        while not checking.done():  # a fixed few can all finish before its first sample)
            await conn.execute(f"SELECT pg_sleep(0.05), (SELECT count(*) FROM {unique})")

    _, report = await asyncio.gather(busy(), checking)

    assert report.data["database"]["datname"] == "adaptive_learning"
    assert 0.9 <= report.data["database"]["window_s"] < 3
    assert report.data["database"]["xact_commit_delta"] > 0
    assert 0 <= report.data["database"]["cache_hit_ratio"] <= 1
    assert unique in str(finding(report, "Slowest statement over").evidence)
    conns = finding(report, "PostgreSQL connections:")
    assert conns.severity is Severity.OK and "of 100" in conns.title

    cfg.thresholds.connections_warn_ratio = 0.0
    crowded = finding(await run("db-load", cfg), "PostgreSQL connections:")
    assert crowded.severity is Severity.WARNING and "set-config" in actions(crowded)
    await conn.execute(f"DROP TABLE {unique}")


async def test_missing_pg_stat_statements_is_a_finding_not_an_error(testbed, platform):
    dsn = testbed["ALP_POSTGRES_DSN"].rsplit("/", 1)[0] + "/postgres"  # extension not created there
    report = await run("db-load", config_for(testbed, platform, "default", postgres_dsn=dsn))
    f = finding(report, "pg_stat_statements is not enabled")
    assert f.severity is Severity.UNKNOWN and "shared_preload_libraries" in f.detail


async def test_stopped_postgres_is_unreachable_within_the_timeout(testbed, platform):
    t0 = time.monotonic()
    cfg = config_for(testbed, platform, "default", postgres_dsn="postgresql://postgres:secretpw@127.0.0.1:1/x")
    report = await run("db-load", cfg)
    assert time.monotonic() - t0 < 5
    assert finding(report, "PostgreSQL unreachable").severity is Severity.CRITICAL
    assert "secretpw" not in report.to_json()


async def test_db_connectivity(testbed, kube_admin, platform, ns):
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="postgres"),
            spec=client.V1ServiceSpec(selector={"app": "postgres"}, ports=[client.V1ServicePort(port=5432)]),
        ),
    )
    make_pod(kube_admin, ns, "postgres-0", "postgres", pod_ip="10.244.0.15")
    cfg = config_for(testbed, platform, ns)
    for _ in range(50):  # kube-controller-manager fills the endpoints from the ready pod
        ep = core.read_namespaced_endpoints("postgres", ns) if _endpoints_exist(core, ns) else None
        if ep and ep.subsets:
            break
        await asyncio.sleep(0.2)

    good = await run("db-connectivity", cfg)
    assert good.severity is Severity.OK, [(f.severity, f.title) for f in good.findings]
    assert finding(good, "1 ready endpoint(s)")
    assert finding(good, "SELECT 1 in")

    core.delete_namespaced_pod("postgres-0", ns, grace_period_seconds=0)
    make_pod(kube_admin, ns, "postgres-0b", "postgres", ready=False, waiting="CrashLoopBackOff", restarts=4)
    cfg.postgres_dsn = "postgresql://postgres:pw@127.0.0.1:1/adaptive_learning"
    for _ in range(50):
        ep = core.read_namespaced_endpoints("postgres", ns)
        if not any(s.addresses for s in ep.subsets or []):
            break
        await asyncio.sleep(0.2)
    bad = await run("db-connectivity", cfg)
    assert finding(bad, "not running/ready (1 of 1").severity is Severity.CRITICAL
    assert "delete-pod" in actions(finding(bad, "no ready endpoints"))
    down = finding(bad, "PostgreSQL unreachable at 127.0.0.1:1")  # TCP and SELECT 1: one cause, stated once
    assert down.severity is Severity.CRITICAL and set(down.probe.split(", ")) == {"tcp", "select-1"}


def _endpoints_exist(core, ns: str) -> bool:
    return any(e.metadata.name == "postgres" for e in core.list_namespaced_endpoints(ns).items)


async def test_redis_hit_ratio_from_hits_and_misses_we_caused(testbed, platform, unique):
    r = aioredis.from_url(testbed["ALP_REDIS_URL"], decode_responses=True)
    await r.set(f"user:{unique}", "1")
    cfg = config_for(testbed, platform, "default")
    cfg.thresholds.rate_window_s = 1.0
    cfg.thresholds.redis_min_lookups = 4

    async def lookups(hits: int, misses: int) -> None:  # inside the window between the two INFO samples
        await asyncio.sleep(0.3)
        for _ in range(hits):
            await r.get(f"user:{unique}")
        for _ in range(misses):
            await r.get(f"user:{unique}-missing")

    report, _ = await asyncio.gather(run("redis", cfg), lookups(3, 1))
    ratio = finding(report, "Redis hit ratio")
    assert report.data["stats"]["hits"] == 3 and report.data["stats"]["misses"] == 1
    assert "75.0%" in ratio.title and "over 1." in ratio.title and ratio.severity is Severity.WARNING
    assert "warm-cache" in actions(ratio)

    healthy, _ = await asyncio.gather(run("redis", cfg), lookups(9, 1))
    await r.aclose()
    assert "90.0%" in finding(healthy, "Redis hit ratio").title
    assert finding(healthy, "Redis hit ratio").severity is Severity.OK
    assert finding(healthy, "Redis memory").severity is Severity.OK  # testbed: maxmemory 256mb


async def test_redis_scan_finds_keys_and_stops_at_its_bound(testbed, platform, unique):
    r = aioredis.from_url(testbed["ALP_REDIS_URL"], decode_responses=True)
    for i in range(30):
        await r.set(f"user:{unique}:{i}", i)
    await r.aclose()
    cfg = config_for(testbed, platform, "default")

    everything = await run("redis", cfg, pattern=f"user:{unique}:*")
    assert everything.data["scan"]["found"] == 30 and not everything.data["scan"]["stopped_at_limit"]
    bounded = await run("redis", cfg, pattern=f"user:{unique}:*", limit=10)
    assert bounded.data["scan"]["found"] == 10 and bounded.data["scan"]["stopped_at_limit"]
    assert "stopped at the limit of 10" in finding(bounded, "SCAN").title


async def test_redis_down_is_a_finding(testbed, platform):
    report = await run("redis", config_for(testbed, platform, "default", redis_url="redis://127.0.0.1:1/0"))
    assert finding(report, "Redis unreachable").severity is Severity.CRITICAL
    assert report.severity is Severity.CRITICAL
