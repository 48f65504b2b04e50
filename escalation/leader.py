"""Exactly one replica runs the escalation timers.

With SQLite there is one replica and it always leads. With PostgreSQL the leader holds a
session-level advisory lock on a connection of its own; when that process dies, PostgreSQL
drops the lock with the connection and a standby takes it at its next poll.
"""

from __future__ import annotations

import asyncio
import logging
import os

import psycopg

from escalation.store import Store

log = logging.getLogger(__name__)

LOCK_KEY = 0x616C70  # "alp"


class Leadership:
    """Always the leader: the single-replica (SQLite) case."""

    async def try_lead(self) -> bool:
        return True

    async def still_leading(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class PostgresLeadership(Leadership):
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def try_lead(self) -> bool:
        try:
            if self.conn is None or self.conn.closed:
                self.conn = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, connect_timeout=5, application_name=f"alp-leader-{os.getpid()}"
                )
            cur = await self.conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
            row = await cur.fetchone()
            return bool(row and row[0])
        except psycopg.Error as err:
            log.warning("leader election: %s", err)
            await self.release()
            return False

    async def still_leading(self) -> bool:
        try:
            assert self.conn is not None
            await asyncio.wait_for(self.conn.execute("SELECT 1"), 5)
            return True
        except (psycopg.Error, AssertionError, TimeoutError):
            await self.release()
            return False

    async def release(self) -> None:
        if self.conn is not None:
            try:
                await self.conn.close()
            except psycopg.Error:
                pass
        self.conn = None


def leadership_for(store: Store, state_url: str) -> Leadership:
    if store.is_postgres:
        return PostgresLeadership(state_url.replace("postgresql+psycopg://", "postgresql://"))
    return Leadership()
