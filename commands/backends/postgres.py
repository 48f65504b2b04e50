"""PostgreSQL through psycopg 3: one short-lived connection per check, every statement bounded."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row


class PostgresUnavailable(Exception):
    """Could not connect, or the server did not answer in time."""


@asynccontextmanager
async def connect(dsn: str, timeout_s: float) -> AsyncIterator[psycopg.AsyncConnection[dict[str, Any]]]:
    """An autocommit connection whose statements time out after `timeout_s`."""
    ms = int(timeout_s * 1000)
    try:
        conn = await psycopg.AsyncConnection.connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, round(timeout_s)),
            row_factory=dict_row,
            options=f"-c statement_timeout={ms} -c lock_timeout={ms}",
            application_name="alp",
        )
    except psycopg.OperationalError as err:
        raise PostgresUnavailable(_first_line(err)) from None
    try:
        yield conn
    finally:
        await conn.close()


async def query(conn: psycopg.AsyncConnection[dict[str, Any]], sql: str, *params: Any) -> list[dict[str, Any]]:
    async with conn.cursor() as cur:
        await cur.execute(sql, params or None)
        return list(await cur.fetchall())


async def select_one_ms(dsn: str, timeout_s: float) -> float:
    """Connect and `SELECT 1`; milliseconds taken."""
    t0 = time.monotonic()
    async with connect(dsn, timeout_s) as conn:
        await query(conn, "SELECT 1 AS ok")
    return (time.monotonic() - t0) * 1000


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
