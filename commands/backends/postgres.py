"""PostgreSQL through psycopg 3: one short-lived connection per check, every statement bounded.

The bounds (`statement_timeout`, `lock_timeout`) are set per transaction (`set_config(…, true)`)
inside the transaction of every statement (`query`, `execute`), not as startup options or session
SETs: behind PgBouncer in transaction pooling a startup `options` is refused ("unsupported startup
parameter") and a session SET would land on whichever server connection serves the next
transaction, or leak to another client's. No server-side prepared statements either (PgBouncer
before 1.21 cannot route them).

A failure raises a `BackendError` (backend "PostgreSQL"), never a psycopg exception: a refused
login is `BackendLoginRefused`, a server that cannot be reached `BackendUnreachable` (address
"host:port" when psycopg names it; `str()` is psycopg's first line), a statement the server
refuses `BackendRefused`; psycopg errors a caller does not catch inside `connect`'s block are
turned into these as they leave it.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from commands.backends.errors import BackendError, BackendLoginRefused, BackendRefused, BackendUnreachable

if TYPE_CHECKING:  # psycopg is imported on the first connection (a sixth of a CPU second)
    import psycopg

    class Connection(psycopg.AsyncConnection[dict[str, Any]]):
        """An autocommit connection that knows alp's per-statement bound (`timeout_ms`)."""

        timeout_ms: int


BACKEND = "PostgreSQL"
_LOGIN = re.compile(r'(?:authentication failed for user|role) "([^"]+)"(?: does not exist)?')
_SERVER = re.compile(r'server at "([^"]+)", port (\d+) failed')


def _connect_error(err: psycopg.Error) -> BackendError:
    import psycopg

    line = _first_line(err)
    if not isinstance(err, psycopg.OperationalError):  # e.g. an invalid DSN: nothing was tried
        return BackendError(BACKEND, "connect", line, line)
    login = _LOGIN.search(line)
    if login:
        return BackendLoginRefused(BACKEND, "connect", line, user=login.group(1), message=line)
    at = _SERVER.search(line)
    return BackendUnreachable(BACKEND, "connect", line, line, address=f"{at.group(1)}:{at.group(2)}" if at else None)


def backend_error(err: psycopg.Error, operation: str = "query") -> BackendError:
    """The BackendError for a psycopg error met after connecting: a lost connection is
    unreachable, anything the server answered (a refused statement, a timeout it enforced) is refused."""
    import psycopg

    line = _first_line(err)
    sqlstate = getattr(err, "sqlstate", None)
    reason = f"{type(err).__name__}: {line}"
    if sqlstate is None and isinstance(err, psycopg.OperationalError):  # the connection, not the server's answer
        return BackendUnreachable(BACKEND, operation, reason, f"{BACKEND} {operation}: {reason}")
    return BackendRefused(BACKEND, operation, f"{reason} (SQLSTATE {sqlstate})" if sqlstate else reason)


@cache
def _connection_class() -> type[Connection]:
    """`Connection` (see above), made with psycopg's class on first use."""
    import psycopg

    class Connection(psycopg.AsyncConnection[dict[str, Any]]):
        """An autocommit connection that knows alp's per-statement bound (`timeout_ms`)."""

        timeout_ms: int = 0

    return Connection  # type: ignore[return-value]  # the class TYPE_CHECKING declares, made now


@asynccontextmanager
async def connect(dsn: str, timeout_s: float) -> AsyncIterator[Connection]:
    """A connection whose statements (through `query` and `execute`) time out after `timeout_s`,
    as do their waits for locks."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        conn = await _connection_class().connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, round(timeout_s)),
            row_factory=dict_row,
            application_name="alp",
            prepare_threshold=None,
        )
    except psycopg.Error as err:
        raise _connect_error(err) from None
    conn.timeout_ms = max(1, int(timeout_s * 1000))
    try:
        yield conn
    except psycopg.Error as err:
        raise backend_error(err) from err
    finally:
        await conn.close()


async def bound(conn: Connection, cur: psycopg.AsyncCursor[dict[str, Any]]) -> None:
    """Inside a transaction: alp's statement and lock timeouts, for this transaction only (a caller
    running its own transaction calls this first; `query` and `execute` do it themselves)."""
    if conn.timeout_ms <= 0:
        raise ValueError("a PostgreSQL connection without alp's timeouts (use commands.backends.postgres.connect)")
    bound = f"{conn.timeout_ms}ms"
    await cur.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true)", (bound, bound)
    )


async def query(conn: Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    """The rows of one statement, run in a transaction of its own with alp's timeouts."""
    async with conn.transaction(), conn.cursor() as cur:
        await bound(conn, cur)
        await cur.execute(sql, params or None)
        return list(await cur.fetchall())


async def execute(conn: Connection, statement: Any, *params: Any) -> None:
    """A statement without rows (REINDEX, …), in a transaction of its own with alp's timeouts."""
    async with conn.transaction(), conn.cursor() as cur:
        await bound(conn, cur)
        await cur.execute(statement, params or None)


async def select_one_ms(dsn: str, timeout_s: float) -> float:
    """Connect and `SELECT 1`; milliseconds taken."""
    t0 = time.monotonic()
    async with connect(dsn, timeout_s) as conn:
        await query(conn, "SELECT 1 AS ok")
    return (time.monotonic() - t0) * 1000


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
