"""PostgreSQL behind PgBouncer in transaction pooling with its default settings (issue #24, observation 4):
every check said "PostgreSQL unreachable" (`unsupported startup parameter: options`: alp set its timeouts
as startup options) while psql through the same PgBouncer worked. alp's statement and lock timeouts must
hold there too, per transaction, and never leak into the pooled server sessions other clients get."""

from __future__ import annotations

import psycopg
import pytest

from commands.backends.errors import BackendRefused
from commands.backends.postgres import connect, query, select_one_ms
from commands.report import Severity
from tests.support.checks_env import config_for, run
from tests.support.k8s_world import PLATFORM


@pytest.fixture
def bouncer(testbed) -> str:  # type: ignore[no-untyped-def]
    dsn = testbed.get("ALP_TESTBED_PGBOUNCER_DSN")
    if not dsn:
        pytest.fail("no PgBouncer in the test bed: run `scripts/testbed up`")
    with psycopg.connect(dsn, connect_timeout=3) as conn:  # psql's way in works
        conn.execute("SELECT 1")
    return str(dsn)


async def test_checks_read_postgresql_through_pgbouncer(testbed, platform, bouncer) -> None:  # type: ignore[no-untyped-def]
    cfg = config_for(testbed, platform, PLATFORM, postgres_dsn=bouncer)
    assert await select_one_ms(bouncer, 3) > 0
    for target in ("db-load", "deadlocks"):
        report = await run(target, cfg)
        words = " ".join(f"{f.title} {f.detail}" for f in report.findings)
        assert "unreachable" not in words.lower() and "options" not in words, words
        assert report.severity is not Severity.UNKNOWN or "pg_stat_statements" in words, words


async def test_timeouts_hold_per_transaction_behind_pgbouncer(bouncer) -> None:
    async with connect(bouncer, 0.5) as conn:
        assert (await query(conn, "SHOW statement_timeout"))[0]["statement_timeout"] == "500ms"
        assert (await query(conn, "SHOW lock_timeout"))[0]["lock_timeout"] == "500ms"
    with pytest.raises(BackendRefused, match="statement timeout"):
        async with connect(bouncer, 0.5) as conn:
            await query(conn, "SELECT pg_sleep(3)")
    # the pooled server sessions keep their own settings: nothing of alp's leaks to the next client
    with psycopg.connect(bouncer, autocommit=True) as other:
        for _ in range(3):
            assert other.execute("SHOW statement_timeout").fetchone() == ("0",)


async def test_timeouts_hold_on_a_direct_connection_too(testbed) -> None:  # type: ignore[no-untyped-def]
    async with connect(testbed["ALP_POSTGRES_DSN"], 0.5) as conn:
        assert (await query(conn, "SHOW statement_timeout"))[0]["statement_timeout"] == "500ms"
    with pytest.raises(BackendRefused, match="statement timeout"):
        async with connect(testbed["ALP_POSTGRES_DSN"], 0.5) as conn:
            await query(conn, "SELECT pg_sleep(3)")


async def test_a_runbook_sql_probe_keeps_the_timeout_behind_pgbouncer(testbed, platform, bouncer) -> None:  # type: ignore[no-untyped-def]
    """A runbook file's SQL probe runs in its own READ ONLY transaction: alp's statement timeout is set
    there (it used to ride on the startup options PgBouncer refuses)."""
    from commands.checks.kube_probes import KubeHandle
    from commands.registry import CheckContext
    from commands.runbook import model as m
    from commands.runbook.probes.stores import sql

    cfg = config_for(testbed, platform, PLATFORM, postgres_dsn=bouncer)
    cfg.timeouts.probe_s = 1
    probe = m.SqlProbe(
        kind="sql", id="timeout", query="SELECT setting::float FROM pg_settings WHERE name = 'statement_timeout'"
    )
    ctx = CheckContext(cfg)
    with KubeHandle(ctx) as kh:
        observed = await sql(ctx, kh, probe)
    assert observed.evidence == {"value": 1000.0}, observed
    slow = m.SqlProbe(kind="sql", id="slow", query="SELECT 1 FROM pg_sleep(3)")
    with pytest.raises(BackendRefused, match="statement timeout"), KubeHandle(ctx) as kh:
        await sql(ctx, kh, slow)
