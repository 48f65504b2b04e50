"""PostgreSQL targets: `deadlocks`, `db-load`, `db-connectivity`, and the queries they share."""

from __future__ import annotations

from typing import Any

import psycopg

from commands.backends.postgres import connect, query
from commands.checks.blocks import KubeHandle, pods_probe, postgres_host_port, postgres_probe, tcp_probe
from commands.config import ChecksConfig
from commands.probes import Probe, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Fields, Finding, Severity, Suggestion, Table

Conn = psycopg.AsyncConnection[dict[str, Any]]

ENABLE_PGSS = (
    "add pg_stat_statements to shared_preload_libraries (postgres-config), restart "
    "PostgreSQL, then CREATE EXTENSION pg_stat_statements;"
)


def _short(sql: str | None, n: int = 120) -> str:
    return " ".join((sql or "").split())[:n]


async def connections_by_state(conn: Conn, cfg: ChecksConfig) -> Finding:
    """Connections by state and user against max_connections."""
    rows = await query(
        conn,
        """
        SELECT coalesce(state, 'background') AS state, coalesce(usename, '-') AS usename, count(*) AS n
        FROM pg_stat_activity WHERE backend_type = 'client backend'
        GROUP BY 1, 2 ORDER BY 3 DESC""",
    )
    max_conn = int((await query(conn, "SELECT current_setting('max_connections') AS m"))[0]["m"])
    total = sum(int(r["n"]) for r in rows)
    ratio = total / max_conn if max_conn else 0
    severity = Severity.WARNING if ratio >= cfg.thresholds.connections_warn_ratio else Severity.OK
    return Finding(
        severity=severity,
        title=f"PostgreSQL connections: {total} of {max_conn} ({ratio:.0%})",
        evidence=[
            Table(
                columns=["state", "user", "connections"], rows=[[r["state"], r["usename"], str(r["n"])] for r in rows]
            )
        ],
        suggestions=[
            Suggestion(
                action="set-config",
                params={"configmap": "postgres-config", "max_connections": "200"},
                why="runbook: more connections, with pooling",
            )
        ]
        if severity
        else [],
    )


async def pgss_columns(conn: Conn) -> tuple[str, str] | None:
    """(mean, total) column names of pg_stat_statements, or None when it is not installed."""
    installed = await query(conn, "SELECT 1 AS ok FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not installed:
        return None
    version = int((await query(conn, "SELECT current_setting('server_version_num') AS v"))[0]["v"])
    # PostgreSQL 13 renamed mean_time/total_time (the runbook's names) to *_exec_time.
    return ("mean_exec_time", "total_exec_time") if version >= 130000 else ("mean_time", "total_time")


async def slow_statements(
    conn: Conn, cfg: ChecksConfig, like: str | None = None, alt_like: str | None = None, limit: int = 10
) -> Finding:
    """Top statements by mean time from pg_stat_statements (optionally only matching `like`)."""
    cols = await pgss_columns(conn)
    if cols is None:
        return Finding(
            severity=Severity.WARNING,
            title="pg_stat_statements is not enabled",
            detail=f"Statement timings are unavailable. To enable: {ENABLE_PGSS}",
        )
    mean, total = cols
    where = "WHERE query ILIKE %s OR query ILIKE %s" if like else ""
    args: tuple[Any, ...] = (like, alt_like or like) if like else ()
    try:
        rows = await query(
            conn,
            f"""
            SELECT query, calls, {mean} AS mean_ms, {total} AS total_ms
            FROM pg_stat_statements {where} ORDER BY {mean} DESC LIMIT {int(limit)}""",
            *args,
        )
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return Finding(
            severity=Severity.WARNING,
            title="pg_stat_statements is installed but not loaded",
            detail=f"To enable: {ENABLE_PGSS}",
        )
    if not rows:
        return Finding(severity=Severity.OK, title="No matching statements in pg_stat_statements")
    worst = float(rows[0]["mean_ms"])
    th = cfg.thresholds
    severity = (
        Severity.CRITICAL
        if worst >= th.response_time_crit_ms
        else Severity.WARNING
        if worst >= th.response_time_warn_ms
        else Severity.OK
    )
    return Finding(
        severity=severity,
        title=f"Slowest statement: {worst:.1f}ms mean",
        evidence=[
            Table(
                columns=["mean ms", "calls", "total ms", "query"],
                rows=[
                    [f"{float(r['mean_ms']):.1f}", str(r["calls"]), f"{float(r['total_ms']):.0f}", _short(r["query"])]
                    for r in rows
                ],
            )
        ],
    )


async def blocking(conn: Conn) -> list[dict[str, Any]]:
    """Who waits on whom: each blocked backend with the backend holding its lock."""
    return await query(
        conn,
        """
        SELECT blocked.pid AS blocked_pid, blocked.usename AS blocked_user, blocked.query AS blocked_query,
               extract(epoch FROM now() - blocked.query_start) AS waiting_s,
               blocking.pid AS blocking_pid, blocking.usename AS blocking_user,
               blocking.query AS blocking_query, blocking.state AS blocking_state
        FROM pg_stat_activity blocked
        CROSS JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid)
        JOIN pg_stat_activity blocking ON blocking.pid = b.pid
        ORDER BY waiting_s DESC""",
    )


async def long_running(conn: Conn, older_than_s: float) -> list[dict[str, Any]]:
    """Active queries running longer than `older_than_s` (not this connection)."""
    return await query(
        conn,
        """
        SELECT pid, usename, extract(epoch FROM now() - query_start) AS age_s, query
        FROM pg_stat_activity
        WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND query_start < now() - make_interval(secs => %s)
        ORDER BY age_s DESC""",
        older_than_s,
    )


def terminate(pids: list[int], why: str) -> Suggestion:
    return Suggestion(action="terminate-queries", params={"pids": ",".join(str(p) for p in sorted(set(pids)))}, why=why)


def _pg(ctx: CheckContext, body: Any) -> Probe:
    async def probe() -> list[Finding]:
        async with connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
            result: list[Finding] = await body(conn)
            return result

    return probe


@check(
    "deadlocks",
    summary="blocked and blocking backends, and long-running active queries",
    runbook="User Service Issues — Database Deadlocks",
    probes=("locks", "long-running"),
)
async def deadlocks(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    data: dict[str, Any] = {}

    async def locks(conn: Conn) -> list[Finding]:
        rows = await blocking(conn)
        data["blocked"] = [
            {k: (float(v) if k == "waiting_s" and v is not None else v) for k, v in r.items()} for r in rows
        ]
        if not rows:
            return [Finding(severity=Severity.OK, title="No backend is waiting on a lock")]
        return [
            Finding(
                severity=Severity.CRITICAL,
                title=f"{len({r['blocked_pid'] for r in rows})} backend(s) blocked by "
                f"{len({r['blocking_pid'] for r in rows})} other(s)",
                evidence=[
                    Table(
                        columns=[
                            "blocked pid",
                            "user",
                            "waiting",
                            "query",
                            "blocking pid",
                            "user",
                            "state",
                            "blocking query",
                        ],
                        rows=[
                            [
                                str(r["blocked_pid"]),
                                r["blocked_user"] or "-",
                                f"{float(r['waiting_s'] or 0):.0f}s",
                                _short(r["blocked_query"], 80),
                                str(r["blocking_pid"]),
                                r["blocking_user"] or "-",
                                r["blocking_state"] or "-",
                                _short(r["blocking_query"], 80),
                            ]
                            for r in rows
                        ],
                    )
                ],
                suggestions=[
                    terminate([r["blocking_pid"] for r in rows], "end the blocking backends"),
                    Suggestion(
                        action="set-config",
                        params={"configmap": "user-service-config", "lock_timeout": "30s"},
                        why="runbook: bound how long the service waits for locks",
                    ),
                ],
            )
        ]

    async def long(conn: Conn) -> list[Finding]:
        rows = await long_running(conn, cfg.thresholds.long_query_s)
        data["long_running"] = [{**r, "age_s": float(r["age_s"])} for r in rows]
        if not rows:
            return [
                Finding(severity=Severity.OK, title=f"No active query older than {cfg.thresholds.long_query_s:.0f}s")
            ]
        return [
            Finding(
                severity=Severity.WARNING,
                title=f"{len(rows)} query(ies) active longer than {cfg.thresholds.long_query_s:.0f}s",
                evidence=[
                    Table(
                        columns=["pid", "user", "age", "query"],
                        rows=[
                            [str(r["pid"]), r["usename"] or "-", f"{float(r['age_s']):.0f}s", _short(r["query"])]
                            for r in rows
                        ],
                    )
                ],
                suggestions=[terminate([r["pid"] for r in rows], "runbook: kill long-running queries")],
            )
        ]

    findings = await run_probes(ctx, {"locks": _pg(ctx, locks), "long-running": _pg(ctx, long)})
    return CheckResult(findings, data)


@check(
    "db-load",
    summary="pg_stat_database, top statements by mean time, connections vs max",
    runbook="Database Issues — High Database Load",
    probes=("database", "statements", "connections"),
)
async def db_load(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    data: dict[str, Any] = {}

    async def database(conn: Conn) -> list[Finding]:
        rows = await query(
            conn,
            """
            SELECT datname, numbackends, xact_commit, xact_rollback, blks_read, blks_hit, temp_files, temp_bytes
            FROM pg_stat_database WHERE datname = %s""",
            cfg.endpoints.database,
        )
        if not rows:
            return [Finding(severity=Severity.WARNING, title=f"Database {cfg.endpoints.database} not found")]
        r = rows[0]
        data["database"] = {k: (int(v) if isinstance(v, int) else v) for k, v in r.items()}
        reads = int(r["blks_hit"]) + int(r["blks_read"])
        hit = int(r["blks_hit"]) / reads if reads else 1.0
        txns = int(r["xact_commit"]) + int(r["xact_rollback"])
        rollback = int(r["xact_rollback"]) / txns if txns else 0.0
        data["database"].update({"cache_hit_ratio": round(hit, 4), "rollback_ratio": round(rollback, 4)})
        severity = Severity.WARNING if hit < cfg.thresholds.db_cache_hit_warn and reads > 1000 else Severity.OK
        return [
            Finding(
                severity=severity,
                title=f"{r['datname']}: cache hit {hit:.1%}, {r['numbackends']} backend(s)",
                evidence=[
                    Fields(
                        items={
                            "commits": str(r["xact_commit"]),
                            "rollbacks": f"{r['xact_rollback']} ({rollback:.1%})",
                            "blks hit/read": f"{r['blks_hit']}/{r['blks_read']}",
                            "temp files": str(r["temp_files"]),
                            "temp bytes": str(r["temp_bytes"]),
                        }
                    )
                ],
                suggestions=[
                    Suggestion(
                        action="set-resources",
                        params={"statefulset": "postgres", "cpu": "4", "memory": "8Gi"},
                        why="runbook: scale up database resources",
                    )
                ]
                if severity
                else [],
            )
        ]

    async def statements(conn: Conn) -> list[Finding]:
        return [await slow_statements(conn, cfg)]

    async def connections(conn: Conn) -> list[Finding]:
        return [await connections_by_state(conn, cfg)]

    findings = await run_probes(
        ctx, {"database": _pg(ctx, database), "statements": _pg(ctx, statements), "connections": _pg(ctx, connections)}
    )
    return CheckResult(findings, data)


@check(
    "db-connectivity",
    summary="PostgreSQL pods, service endpoints, TCP and SELECT 1 timing",
    runbook="Database Issues — Database Connectivity Issues",
    probes=("pods", "endpoints", "tcp", "select-1"),
)
async def db_connectivity(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    infra, svc = cfg.platform.infra_namespace, cfg.endpoints.postgres_service
    host, port = postgres_host_port(cfg)
    with KubeHandle(ctx) as kh:

        async def endpoints() -> list[Finding]:
            ep = await kh.get().get_endpoints(infra, svc)
            ready = [a.ip for s in (ep.subsets or []) for a in (s.addresses or [])]
            not_ready = [a.ip for s in (ep.subsets or []) for a in (s.not_ready_addresses or [])]
            if not ready:
                return [
                    Finding(
                        severity=Severity.CRITICAL,
                        title=f"Service {svc} has no ready endpoints",
                        detail=f"not ready: {', '.join(not_ready) or 'none'}",
                        suggestions=[
                            Suggestion(
                                action="delete-pod",
                                params={"namespace": infra, "pod": "postgres-0"},
                                why="runbook: restart the database pod (careful!)",
                            )
                        ],
                    )
                ]
            return [Finding(severity=Severity.OK, title=f"Service {svc}: {len(ready)} ready endpoint(s)")]

        findings = await run_probes(
            ctx,
            {
                "pods": pods_probe(kh, infra, "app=postgres", "PostgreSQL pods"),
                "endpoints": endpoints,
                "tcp": tcp_probe(host, port, "PostgreSQL TCP", cfg.timeouts.probe_s),
                "select-1": postgres_probe(cfg),
            },
        )
    return CheckResult(findings)
