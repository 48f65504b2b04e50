"""The lock wait-for graph of `deadlocks`: who waits on whom, and the root blockers to act on.

Built from `pg_blocking_pids()` (PostgreSQL's own answer to "who blocks this backend"), not
from a pg_locks self-join, which lists every holder of a compatible lock type as a "blocker".
A root blocker is a backend others wait on while it waits on nobody: ending it frees the chain;
ending a waiter frees nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from commands.backends.postgres import query
from commands.report import Finding, Severity, Suggestion, Table

if TYPE_CHECKING:
    from commands.backends.postgres import Connection as Conn  # statements bounded per transaction


RUNBOOK_LOCK_TIMEOUT_S = 30.0  # runbook: kubectl patch configmap user-service-config lock_timeout=30s
HIDDEN_STATE = "hidden"  # another role's backend, under a role without pg_read_all_stats (state reads NULL)


@dataclass
class Backend:
    """One backend in the graph; ages in seconds (None when PostgreSQL does not say)."""

    pid: int
    user: str
    application: str
    client: str
    state: str
    xact_s: float | None
    query_s: float | None
    query: str
    blocked_by: list[int]
    tables: list[str] = field(default_factory=list)  # tables it holds a lock on (pg_locks), schema-qualified off public

    @property
    def idle_in_transaction(self) -> bool:
        return self.state.startswith("idle in transaction")

    @property
    def hidden(self) -> bool:
        """Its state and query are hidden from the bot's role (no pg_read_all_stats)."""
        return self.state == HIDDEN_STATE


async def lock_graph(conn: Conn) -> dict[int, Backend]:
    """Every backend that waits on a lock or holds one someone waits on, by pid."""
    rows = await query(
        conn,
        """
        WITH a AS (
            SELECT pid, coalesce(usename, '-') AS usename, coalesce(application_name, '') AS app,
                   coalesce(host(client_addr), 'local') AS client, coalesce(state, backend_type, %s) AS state,
                   extract(epoch FROM now() - xact_start)::float8 AS xact_s,
                   extract(epoch FROM now() - query_start)::float8 AS query_s,
                   coalesce(query, '') AS query, pg_blocking_pids(pid) AS blocked_by
            FROM pg_stat_activity WHERE pid <> pg_backend_pid())
        SELECT a.*, ARRAY(
            SELECT DISTINCT c.oid::regclass::text FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE l.pid = a.pid AND l.locktype = 'relation' AND c.relkind IN ('r', 'p')) AS tables
        FROM a WHERE cardinality(blocked_by) > 0 OR pid IN (SELECT unnest(blocked_by) FROM a)""",
        HIDDEN_STATE,
    )
    return {
        int(r["pid"]): Backend(
            int(r["pid"]),
            r["usename"],
            r["app"],
            r["client"],
            r["state"],
            r["xact_s"],
            r["query_s"],
            r["query"],
            [int(p) for p in r["blocked_by"]],
            sorted(str(t) for t in r["tables"] or []),
        )
        for r in rows
    }


def roots(graph: dict[int, Backend]) -> list[tuple[Backend, int]]:
    """Root blockers with how many backends wait behind them (directly or through others), most first.

    A cycle with no root (a real deadlock, which PostgreSQL breaks after deadlock_timeout) gives
    each member as a root, so it is never silently dropped."""
    waiting_on: dict[int, set[int]] = {pid: set() for pid in graph}
    for b in graph.values():
        for blocker in b.blocked_by:
            waiting_on.setdefault(blocker, set()).add(b.pid)

    def reach(pid: int) -> set[int]:
        seen: set[int] = set()
        todo = [pid]
        while todo:
            for w in waiting_on.get(todo.pop(), set()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    def behind(pid: int) -> set[int]:
        return reach(pid) - {pid}

    tops = [b for b in graph.values() if not b.blocked_by and waiting_on.get(b.pid)]
    # only the members of a cycle (each reaches itself), not the backends queued behind it
    cycle = [b for b in graph.values() if b.blocked_by and b.pid in reach(b.pid)]
    out = [(b, len(behind(b.pid))) for b in tops + cycle]
    return sorted(out, key=lambda x: (-x[1], x[0].pid))


def age(seconds: float | None) -> str:
    """`4m07s`-style age."""
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def duration_s(value: str) -> float | None:
    """A PostgreSQL duration setting (`10s`, `500ms`, `1min`, `0`) in seconds; 0 means no limit."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*", value or "")
    if not m:
        return None
    scale = {"ms": 0.001, "s": 1, "min": 60, "h": 3600, "d": 86400, None: 0.001}[m.group(2)]
    return float(m.group(1)) * scale


def lock_timeout_remedy(current: str | None) -> Suggestion | None:
    """The runbook's lock_timeout=30s, only where it lowers what is set (unset or 0 is no limit).
    None when the current value is unknown or already at most 30s: raising it would make waits longer."""
    if current is None:
        return None
    seconds = duration_s(current) if current.strip() else 0.0  # unset: PostgreSQL's default, no limit
    if seconds is None or 0 < seconds <= RUNBOOK_LOCK_TIMEOUT_S:
        return None
    return Suggestion(
        action="set-config",
        params={"configmap": "user-service-config", "lock_timeout": f"{RUNBOOK_LOCK_TIMEOUT_S:.0f}s"},
        why=f"runbook: bound how long the service waits for locks (now {current or 'unset'})",
    )


def _short(sql: str, n: int = 80) -> str:
    return " ".join(sql.split())[:n]


def _where(waiters: list[Backend]) -> str:
    """ " on user_progress for up to 4m07s": the tables the waiters lock (the statement they run,
    when their role cannot see them) and the longest wait, as read now."""
    tables = sorted({t for b in waiters for t in b.tables})
    if tables:
        on = f" on {', '.join(tables[:3])}" + (f" (+{len(tables) - 3} more)" if len(tables) > 3 else "")
    else:
        statements = sorted({_short(b.query, 40) for b in waiters if b.query})
        on = f" running {statements[0]!r}" if statements else ""
    longest = max((b.query_s for b in waiters if b.query_s is not None), default=None)
    return on + (f" for up to {age(longest)}" if longest is not None else "")


def lock_finding(graph: dict[int, Backend], lock_timeout: str | None, blind: str | None = None) -> Finding:
    """Root blockers first: what holds the chain, how old, how many wait; terminate roots only.
    `blind`: why some backends' state and query are hidden (commands.checks.pg_grants), said in the detail."""
    if not graph:
        return Finding(severity=Severity.OK, title="No backend is waiting on a lock")
    top = roots(graph)
    waiters = [b for b in graph.values() if b.blocked_by]
    if not top:  # held by no backend we can see (e.g. a prepared transaction: pid 0)
        return Finding(
            severity=Severity.CRITICAL,
            title=f"{len(waiters)} backend(s) blocked waiting on locks{_where(waiters)}, held by no visible backend",
            detail="pg_blocking_pids() names no live backend (a prepared transaction shows as pid 0); "
            "see pg_prepared_xacts. Nothing is offered for termination: ending a waiter frees nothing.",
        )
    first, n_first = top[0]
    flag = ", IDLE IN TRANSACTION" if first.idle_in_transaction else ""
    title = (
        f"{len(waiters)} backend(s) blocked waiting on locks{_where(waiters)}; root blocker pid {first.pid} "
        f"({first.application or first.user}{flag}, transaction {age(first.xact_s)}) holds up {n_first}"
    )
    if first.blocked_by:
        title += " in a lock cycle (a deadlock PostgreSQL breaks after deadlock_timeout)"
    if len(top) > 1:
        title += f" (+{len(top) - 1} other root blocker(s))"
    root_rows = [
        [
            str(b.pid),
            b.user,
            b.application or "-",
            b.client,
            f"{b.state.upper()} (!)" if b.idle_in_transaction else b.state,
            age(b.xact_s),
            age(b.query_s),
            str(n),
            _short(b.query),
        ]
        for b, n in top
    ]
    waiter_rows = [
        [str(b.pid), b.user, b.application or "-", age(b.query_s), ",".join(map(str, b.blocked_by)), _short(b.query)]
        for b in sorted(waiters, key=lambda b: -(b.query_s or 0))
    ]
    suggestions = [
        Suggestion(
            action="terminate-queries",
            params={"pids": ",".join(str(b.pid) for b, _ in sorted(top, key=lambda x: x[0].pid))},
            why="end the root blocker(s) only; the waiters then proceed",
        )
    ]
    lock_remedy = lock_timeout_remedy(lock_timeout)
    if lock_remedy:
        suggestions.append(lock_remedy)
    note = "idle in transaction: a client opened a transaction and stopped talking. " if flag else ""
    return Finding(
        severity=Severity.CRITICAL,
        title=title,
        detail=f"{note}Waiters are not listed for termination: ending them frees nothing. "
        f"lock_timeout in user-service-config: {lock_timeout if lock_timeout is not None else 'could not be read'}."
        + (f" State and query of some backends are hidden: {blind}." if blind else ""),
        evidence=[
            Table(
                columns=[
                    "root pid",
                    "user",
                    "application",
                    "client",
                    "state",
                    "xact age",
                    "query age",
                    "waiting behind",
                    "query",
                ],
                rows=root_rows,
            ),
            Table(columns=["waiting pid", "user", "application", "waiting", "blocked by", "query"], rows=waiter_rows),
        ],
        suggestions=suggestions,
    )


def blocked_rows(graph: dict[int, Backend]) -> list[dict[str, Any]]:
    """`data["blocked"]`: one row per (waiter, immediate blocker), longest wait first."""
    rows = []
    for b in graph.values():
        for p in b.blocked_by:
            blocker = graph.get(p)
            rows.append(
                {
                    "blocked_pid": b.pid,
                    "blocked_user": b.user,
                    "blocked_query": b.query,
                    "waiting_s": b.query_s,
                    "blocking_pid": p,
                    "blocking_user": blocker.user if blocker else None,
                    "blocking_query": blocker.query if blocker else None,
                    "blocking_state": blocker.state if blocker else None,
                }
            )
    return sorted(rows, key=lambda r: -(r["waiting_s"] or 0))
