"""Rates over a short window, not lifetime counters: sample twice, judge the difference.

`pg_stat_database` and `pg_stat_statements` count since the last reset (often server start):
a mean there is dominated by whatever happened hours ago. Both are read twice,
`thresholds.rate_window_s` apart, and every figure says the window it covers.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from commands.backends.postgres import query
from commands.checks.pg_grants import HIDDEN, stats_blind_spot
from commands.config import ChecksConfig
from commands.report import Fields, Finding, Severity, Suggestion, Table

if TYPE_CHECKING:
    from commands.backends.postgres import Connection as Conn  # statements bounded per transaction

T = TypeVar("T")

ENABLE_PGSS = (
    "add pg_stat_statements to shared_preload_libraries (postgres-config), restart "
    "PostgreSQL, then CREATE EXTENSION pg_stat_statements;"
)
# Plain data statements only: utility and DDL (CREATE/DROP DATABASE, VACUUM, COPY, SET…) are not "slow queries".
_DML = re.compile(r"^\s*(?:/\*.*?\*/\s*)*(select|insert|update|delete|with|merge|values|table)\b", re.I | re.S)


async def two_samples(sample: Callable[[], Awaitable[T]], window_s: float) -> tuple[T, T, float]:
    """(before, after, seconds between them)."""
    t0 = time.monotonic()
    before = await sample()
    await asyncio.sleep(window_s)
    after = await sample()
    return before, after, time.monotonic() - t0


def over(seconds: float) -> str:
    return f"over {seconds:.1f}s"


# ---------------------------------------------------------------------- pg_stat_database
_DB_COUNTERS = ("xact_commit", "xact_rollback", "blks_read", "blks_hit", "temp_files", "temp_bytes")


def database_remedies(cache_low: bool) -> list[Suggestion]:
    """db-load: more database memory only when the cache hit ratio measured over the window is low."""
    if not cache_low:
        return []
    return [
        Suggestion(
            action="set-resources",
            params={"statefulset": "postgres", "cpu": "4", "memory": "8Gi"},
            why="runbook: scale up database resources (cache hit ratio low over the window)",
        )
    ]


async def database_finding(conn: Conn, cfg: ChecksConfig, data: dict[str, Any]) -> Finding:
    """Commits, rollbacks, cache hit ratio and temp files of the platform's database, over the window."""
    sql = f"SELECT datname, numbackends, {', '.join(_DB_COUNTERS)} FROM pg_stat_database WHERE datname = %s"

    async def sample() -> dict[str, Any] | None:
        await query(conn, "SELECT pg_stat_clear_snapshot()")  # a fresh read, not this transaction's snapshot
        rows = await query(conn, sql, cfg.endpoints.database)
        return rows[0] if rows else None

    before, after, seconds = await two_samples(sample, cfg.thresholds.rate_window_s)
    if before is None or after is None:
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"Database {cfg.endpoints.database} not found in pg_stat_database, nothing to judge",
        )
    d = {k: int(after[k]) - int(before[k]) for k in _DB_COUNTERS}
    reads = d["blks_hit"] + d["blks_read"]
    txns = d["xact_commit"] + d["xact_rollback"]
    hit = d["blks_hit"] / reads if reads else None
    th = cfg.thresholds
    enough = reads >= th.db_min_block_reads
    low = bool(enough and hit is not None and hit < th.db_cache_hit_warn)
    rollback_ratio = d["xact_rollback"] / txns if txns else 0.0
    rolling_back = txns >= th.db_min_transactions and rollback_ratio >= th.rollback_ratio_warn
    spill_rate = d["temp_bytes"] / seconds if seconds > 0 else 0.0
    spilling = th.temp_bytes_warn_per_s > 0 and spill_rate >= th.temp_bytes_warn_per_s
    data["database"] = {
        "datname": after["datname"],
        "numbackends": int(after["numbackends"]),
        "window_s": round(seconds, 2),
        **{f"{k}_delta": v for k, v in d.items()},
        "cache_hit_ratio": round(hit, 4) if hit is not None else None,
        "rollback_ratio": round(d["xact_rollback"] / txns, 4) if txns else None,
    }
    if not enough:
        hit_text = f"too little traffic to judge the cache hit ratio ({reads} block reads {over(seconds)})"
    else:
        hit_text = f"cache hit {hit:.1%} {over(seconds)}"
    problems = []  # the runbook's own figures, judged with thresholds in configuration
    if rolling_back:
        problems.append(
            f"{d['xact_rollback']:,} rollbacks against {d['xact_commit']:,} commits ({rollback_ratio:.0%}) {over(seconds)}"
        )
    if spilling:
        problems.append(
            f"{d['temp_files']} temp file(s), {d['temp_bytes'] / 1e6:.1f} MB spilled {over(seconds)} "
            f"({spill_rate / 1e6:.1f} MB/s: work_mem too small for these sorts/hashes)"
        )
    title = f"{after['datname']}: " + ("; ".join(problems) + f"; {hit_text}" if problems else hit_text)
    limits = (
        f"warning at rollbacks >= {th.rollback_ratio_warn:.0%} of >= {th.db_min_transactions} transactions, "
        f"temp files >= {th.temp_bytes_warn_per_s / 1e6:.1f} MB/s, cache hit < {th.db_cache_hit_warn:.0%}"
    )
    return Finding(
        severity=Severity.WARNING if low or problems else Severity.OK,
        title=f"{title}, {after['numbackends']} backend(s)",
        detail=f"counter changes {over(seconds)} (pg_stat_database, sampled twice); {limits}",
        evidence=[
            Fields(
                items={
                    "window": f"{seconds:.1f}s",
                    "commits": str(d["xact_commit"]),
                    "rollbacks": str(d["xact_rollback"]),
                    "blks hit/read": f"{d['blks_hit']}/{d['blks_read']}",
                    "temp files": str(d["temp_files"]),
                    "temp bytes": str(d["temp_bytes"]),
                }
            )
        ],
        suggestions=database_remedies(low),
    )


# ---------------------------------------------------------------------- pg_stat_statements
async def pgss_columns(conn: Conn) -> tuple[str, str] | None:
    """(mean, total) column names of pg_stat_statements, or None when it is not installed."""
    installed = await query(conn, "SELECT 1 AS ok FROM pg_extension WHERE extname = 'pg_stat_statements'")
    if not installed:
        return None
    version = int((await query(conn, "SELECT current_setting('server_version_num') AS v"))[0]["v"])
    # PostgreSQL 13 renamed mean_time/total_time (the runbook's names) to *_exec_time.
    return ("mean_exec_time", "total_exec_time") if version >= 130000 else ("mean_time", "total_time")


def _short(sql: str | None, n: int = 120) -> str:
    return " ".join((sql or "").split())[:n]


async def slow_statements(
    conn: Conn, cfg: ChecksConfig, like: str | None = None, alt_like: str | None = None, limit: int = 10
) -> Finding:
    """Top data statements by mean time over the window (optionally only those matching `like`).

    The mean is the change in total time over the change in calls between two samples of
    pg_stat_statements; utility and DDL statements and the bot's own reads are left out."""
    cols = await pgss_columns(conn)
    if cols is None:
        return Finding(
            severity=Severity.UNKNOWN,
            title="pg_stat_statements is not enabled: statement timings unknown",
            detail=f"To enable: {ENABLE_PGSS}",
        )
    _, total = cols
    where = "AND (query ILIKE %s OR query ILIKE %s)" if like else ""
    args: tuple[Any, ...] = (like, alt_like or like) if like else ()
    sql = f"""
        SELECT userid, queryid, query, calls, {total} AS total_ms FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND query NOT ILIKE '%%pg_stat%%' {where}"""

    async def sample() -> dict[tuple[Any, Any], dict[str, Any]]:
        # Another role's statements show with no queryid under a role without pg_read_all_stats:
        # summed per role, so they are measured (as one "hidden" row), not lost or overwritten.
        out: dict[tuple[Any, Any], dict[str, Any]] = {}
        for r in await query(conn, sql, *args):
            key = (r["userid"], r["queryid"])
            if key in out:
                out[key] = {
                    **r,
                    "calls": out[key]["calls"] + r["calls"],
                    "total_ms": out[key]["total_ms"] + r["total_ms"],
                }
            else:
                out[key] = r
        return out

    import psycopg  # loaded: this check has connected

    try:
        before, after, seconds = await two_samples(sample, cfg.thresholds.rate_window_s)
    except psycopg.errors.ObjectNotInPrerequisiteState:
        return Finding(
            severity=Severity.UNKNOWN,
            title="pg_stat_statements is installed but not loaded: statement timings unknown",
            detail=f"To enable: {ENABLE_PGSS}",
        )
    blind = await stats_blind_spot(conn)
    rows = []
    for key, r in after.items():
        hidden = r["query"] == HIDDEN
        if not hidden and not _DML.match(r["query"] or ""):
            continue
        prev = before.get(key)
        calls = int(r["calls"]) - (int(prev["calls"]) if prev else 0)
        spent = float(r["total_ms"]) - (float(prev["total_ms"]) if prev else 0.0)
        if calls > 0:
            text = f"(hidden: statements of role oid {key[0]}, summed)" if hidden else r["query"]
            rows.append((spent / calls, calls, spent, text))
    rows.sort(key=lambda x: -x[0])
    scope = "matching statements" if like else "statements"
    if not rows:
        return Finding(
            severity=Severity.UNKNOWN if blind else Severity.OK,
            title=f"No {scope} completed {over(seconds)}"
            + (f" that the bot may see: {blind}" if blind else "")
            + ("" if blind else ": no statement load to judge"),
            detail="pg_stat_statements sampled twice; utility and DDL statements excluded",
        )
    worst = rows[0][0]
    th = cfg.thresholds
    severity = (
        Severity.CRITICAL
        if worst >= th.response_time_crit_ms
        else Severity.WARNING
        if worst >= th.response_time_warn_ms
        else Severity.OK
    )
    if blind and severity is Severity.OK:  # fast as far as it may see: not evidence of fast
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"Statement timings of other roles not visible: {blind}",
            detail=f"seen {over(seconds)}: slowest {worst:.1f}ms mean over {rows[0][1]} call(s)",
        )
    return Finding(
        severity=severity,
        title=f"Slowest statement {over(seconds)}: {worst:.1f}ms mean over {rows[0][1]} call(s)",
        detail=f"change in pg_stat_statements {over(seconds)}; utility and DDL statements excluded"
        + (f"; {blind}" if blind else ""),
        evidence=[
            Table(
                columns=["mean ms", "calls", "total ms", "query"],
                rows=[[f"{m:.1f}", str(c), f"{t:.0f}", _short(q)] for m, c, t, q in rows[:limit]],
            )
        ],
    )
