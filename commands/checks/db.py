"""PostgreSQL targets: `deadlocks`, `db-load`, `db-connectivity`, and the queries they share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from commands.backends.postgres import connect, query
from commands.checks.endpoint_probes import postgres_host_port, postgres_probe, tcp_probe
from commands.checks.kube_probes import KubeHandle, pods_probe
from commands.checks.locks import blocked_rows, lock_finding, lock_graph, roots
from commands.checks.pg_grants import stats_blind_spot
from commands.checks.rates import database_finding, slow_statements
from commands.config import ChecksConfig
from commands.probes import Probe, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Finding, Severity, Suggestion, Table

if TYPE_CHECKING:
    from commands.backends.postgres import Connection as Conn  # statements bounded per transaction


def _short(sql: str | None, n: int = 120) -> str:
    return " ".join((sql or "").split())[:n]


async def connections_by_state(conn: Conn, cfg: ChecksConfig) -> Finding:
    """Connections by state and user against max_connections.

    Backends the bot's role may not see (no pg_read_all_stats: backend_type and state read NULL)
    are counted as "hidden", never dropped: the total is then an upper bound on client connections."""
    rows = await query(
        conn,
        """
        SELECT coalesce(state, CASE WHEN backend_type IS NULL THEN 'hidden' ELSE 'background' END) AS state,
               coalesce(usename, '-') AS usename, count(*) AS n
        FROM pg_stat_activity WHERE backend_type = 'client backend' OR backend_type IS NULL
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
        if severity is not Severity.OK
        else [],
    )


async def long_running(conn: Conn, older_than_s: float) -> list[dict[str, Any]]:
    """Active queries running longer than `older_than_s` (not this connection).

    Backends in the lock graph are left out: waiters are victims, and root blockers are already
    reported (and offered for termination) by the locks probe."""
    return await query(
        conn,
        """
        SELECT pid, usename, extract(epoch FROM now() - query_start) AS age_s, query
        FROM pg_stat_activity
        WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND query_start < now() - make_interval(secs => %s)
          AND cardinality(pg_blocking_pids(pid)) = 0
          AND pid NOT IN (SELECT unnest(pg_blocking_pids(a.pid)) FROM pg_stat_activity a)
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
    summary="root blockers of the lock wait-for graph, and long-running active queries",
    runbook="User Service Issues — Database Deadlocks",
    probes=("locks", "long-running"),
)
async def deadlocks(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    data: dict[str, Any] = {}

    async def current_lock_timeout() -> str | None:
        """lock_timeout in user-service-config ("" when unset), None when it cannot be read."""
        try:
            with KubeHandle(ctx) as kh:
                cm = await kh.get().get_configmap(cfg.namespace, "user-service-config")
        except Exception:  # no cluster config, refused, missing: the suggestion is left out, the rest stands
            return None
        return str((cm.data or {}).get("lock_timeout", ""))

    async def locks(conn: Conn) -> list[Finding]:
        graph = await lock_graph(conn)
        data["blocked"] = blocked_rows(graph)
        if not graph:
            return [lock_finding(graph, None)]
        data["roots"] = [{"pid": b.pid, "waiting_behind": n, "state": b.state} for b, n in roots(graph)]
        hidden = any(b.hidden for b in graph.values())
        return [lock_finding(graph, await current_lock_timeout(), await stats_blind_spot(conn) if hidden else None)]

    async def long(conn: Conn) -> list[Finding]:
        rows = await long_running(conn, cfg.thresholds.long_query_s)
        data["long_running"] = [{**r, "age_s": float(r["age_s"])} for r in rows]
        blind = None if rows else await stats_blind_spot(conn)
        if blind:  # other roles' queries read as NULL: none found is not none running
            return [
                Finding(severity=Severity.UNKNOWN, title=f"Long-running queries of other roles not visible: {blind}")
            ]
        if not rows:
            return [
                Finding(
                    severity=Severity.OK,
                    title=f"No active query older than {cfg.thresholds.long_query_s:.0f}s (lock waiters aside)",
                )
            ]
        return [
            Finding(
                severity=Severity.WARNING,
                title=f"{len(rows)} query(ies) active longer than {cfg.thresholds.long_query_s:.0f}s",
                detail="running, not waiting on a lock",
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
    summary="pg_stat_database and top statements by mean time over a short window, connections vs max",
    runbook="Database Issues — High Database Load",
    probes=("database", "statements", "connections"),
)
async def db_load(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    data: dict[str, Any] = {}

    async def database(conn: Conn) -> list[Finding]:
        return [await database_finding(conn, cfg, data)]

    async def statements(conn: Conn) -> list[Finding]:
        return [await slow_statements(conn, cfg)]

    async def connections(conn: Conn) -> list[Finding]:
        return [await connections_by_state(conn, cfg)]

    findings = await run_probes(
        ctx,
        {"database": _pg(ctx, database), "statements": _pg(ctx, statements), "connections": _pg(ctx, connections)},
        timeout_s=cfg.timeouts.probe_s * 2 + cfg.thresholds.rate_window_s,
    )
    return CheckResult(findings, data)


def connectivity_remedies(findings: list[Finding]) -> list[Finding]:
    """db-connectivity's judgement of which remedy fits, next to its evidence.

    Restarting postgres-0 (destructive) fits only when the database does not answer: while
    `SELECT 1` succeeds the pod is serving, and the fault is in the path to it (endpoints,
    readiness, the network), so the delete-pod suggestion is withdrawn and the report says why."""
    answered = any(f.probe == "select-1" and f.severity is Severity.OK for f in findings)
    if not answered:
        return findings
    out = []
    for f in findings:
        kept = [s for s in f.suggestions if s.action != "delete-pod"]
        if len(kept) != len(f.suggestions):
            f = f.model_copy(
                update={
                    "suggestions": kept,
                    "detail": (f.detail + "; " if f.detail else "")
                    + "SELECT 1 answers, so the database is up: not suggesting a restart of postgres-0",
                }
            )
        out.append(f)
    return out


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
                "tcp": tcp_probe(host, port, "PostgreSQL TCP", cfg.timeouts.probe_s, backend="PostgreSQL"),
                "select-1": postgres_probe(cfg),
            },
        )
    return CheckResult(connectivity_remedies(findings))
