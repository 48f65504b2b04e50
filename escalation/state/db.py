"""Database plumbing shared by the state store's modules: UTC times, the URL, migrations at start-up,
and `Database`, the one asynchronous engine (connection pool) every table's API works through.

Requests never wait on a synchronous database call: reads and writes go through SQLAlchemy's
asyncio engine (aiosqlite for SQLite, psycopg's async driver for PostgreSQL). Only the Alembic
migrations at start-up use a short-lived synchronous engine.

Every statement alp sends to PostgreSQL is bounded (`StateStoreLimits`): each transaction starts by
setting `statement_timeout`, `lock_timeout` and `idle_in_transaction_session_timeout` for itself
(`set_config(..., true)`, as `SET LOCAL` does), so the limits hold behind PgBouncer in transaction
pooling too, where startup `options` are refused and a session's `SET` would leak to other clients;
and every connection has TCP keepalives and a TCP user timeout, so a half-open connection is
noticed in seconds on the bot's side. A backend left idle in a transaction by a bot cut off from
it is ended by PostgreSQL after `idle_in_transaction_timeout_s`, releasing its row locks.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from commands.backends.errors import BackendError
from escalation.state.limits import StateStoreLimits

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30  # a writer queues this long on SQLite's lock before "database is locked"
_MIGRATED: set[str] = set()  # databases this process has already brought up to date


def bound_transactions(engine: Engine, limits: StateStoreLimits, migrating: bool = False) -> None:
    """Every transaction on the PostgreSQL `engine` starts by setting its own limits (one round trip)."""
    if engine.dialect.name != "postgresql":
        return
    values = limits.settings(migrating)
    statement = "SELECT " + ", ".join(f"set_config('{name}', %({name})s, true)" for name in values)

    @event.listens_for(engine, "begin")
    def _limits(conn: Connection) -> None:
        conn.exec_driver_sql(statement, values)


async def wait_for_locks_at_most(conn: AsyncConnection, seconds: float) -> None:
    """Within this transaction, a lock not granted within `seconds` fails the statement (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": str(int(seconds * 1000))})


def now() -> datetime:
    return datetime.now(UTC)


def sqlalchemy_url(state_url: str) -> str:
    """ALP_STATE_URL as SQLAlchemy's synchronous engine wants it (PostgreSQL through psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if state_url.startswith(prefix):
            return "postgresql+psycopg://" + state_url[len(prefix) :]
    return state_url


def async_url(state_url: str) -> str:
    """ALP_STATE_URL for the asyncio engine: psycopg's async driver, or aiosqlite for SQLite."""
    url = sqlalchemy_url(state_url)
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    if url.startswith("sqlite+pysqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite+pysqlite://") :]
    return url


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class MigrationFailed(Exception):
    """The migrations at start failed and were rolled back as a whole: the schema is still at
    `revision` (every revision runs in the one transaction, DDL included: PostgreSQL's and SQLite's
    DDL are transactional), so a process killed or refused midway leaves no half-migrated schema."""

    def __init__(self, revision: str, head: str, cause: sa.exc.SQLAlchemyError) -> None:
        super().__init__(f"migrating {revision} -> {head}: {cause}")
        self.revision, self.head, self.cause = revision, head, cause


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision, all revisions in one transaction. A database made by
    `create_all` before migrations existed is stamped 0001 first. On PostgreSQL an advisory lock
    keeps replicas starting together from migrating at once. Raises `MigrationFailed`."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _MIGRATED:
        return
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = str(ScriptDirectory.from_config(cfg).get_current_head())
    revision = "none"
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(7367012)"))
            inspector = sa.inspect(conn)
            cfg.attributes["connection"] = conn
            if inspector.has_table("alp_incidents") and not inspector.has_table("alp_schema_version"):
                command.stamp(cfg, "0001")
            context = MigrationContext.configure(conn, opts={"version_table": "alp_schema_version"})
            revision = context.get_current_revision() or "none"
            command.upgrade(cfg, "head")
    except sa.exc.SQLAlchemyError as err:
        raise MigrationFailed(revision, head, err) from err
    _MIGRATED.add(key)


def serialised_writes(engine: Engine) -> None:
    """SQLite without "database is locked": WAL (readers never block the writer, nor it them),
    a busy timeout on every connection, and every transaction `BEGIN IMMEDIATE` so it takes the
    write lock first and queues for it (a deferred one that reads, then writes, gets SQLITE_BUSY
    at once, the busy timeout never asked). SQLAlchemy's recipe for pysqlite and aiosqlite."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver's own BEGIN off: ours below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _connect_args(url: str, limits: StateStoreLimits) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"timeout": limits.busy_timeout_s}  # writers queue on SQLite's lock instead of failing
    return limits.connect_args()


class StateStoreError(BackendError):
    """The state database at ALP_STATE_URL could not be reached or refused the bot (a login, a statement).
    `backend` is "PostgreSQL" or "SQLite"; `str()` says it is alp's state store, where, and why."""


def _timed_out(err: MigrationFailed) -> bool:
    """The migration met a statement or lock timeout (PostgreSQL's 57014 or 55P03): it waited on a
    lock another session holds (an open transaction on its tables, another replica migrating)."""
    return getattr(getattr(err.cause, "orig", None), "sqlstate", None) in ("57014", "55P03")


def state_store_error(
    err: sa.exc.SQLAlchemyError, state_url: str, operation: str = "open", after: str = ""
) -> StateStoreError:
    """The StateStoreError for a SQLAlchemy (driver) error met on the state store; no password in
    it; `after`: said after the reason."""
    url = sa.engine.make_url(sqlalchemy_url(state_url))
    backend = "PostgreSQL" if url.get_backend_name() == "postgresql" else url.get_backend_name().capitalize()
    where = f"{url.host}:{url.port or 5432}/{url.database}" if url.host else str(url.database)
    reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    message = f"alp's state store ({backend} at {where}, ALP_STATE_URL) could not {operation}: {reason}{after}"
    return StateStoreError(backend, operation, reason, message)


def as_state_store_error(err: BaseException, state_url: str) -> StateStoreError | None:
    """`err` as the StateStoreError it is when the state store failed (a driver error on the way up
    from a store call), else None: callers above escalation/ name the store without importing SQLAlchemy."""
    if isinstance(err, StateStoreError):
        return err
    if isinstance(err, sa.exc.SQLAlchemyError):
        return state_store_error(err, state_url, "answer")
    return None


class Database:
    """The state database at ALP_STATE_URL (SQLite, one replica; PostgreSQL, several), migrated to
    the newest schema when opened (synchronously: start-up, not a request). `engine` is the asyncio
    engine the store, the outbox, the lease, remediation requests, alert groups and the audit log share."""

    def __init__(self, state_url: str, pooled: bool = True, limits: StateStoreLimits | None = None) -> None:
        """`pooled=False` (a one-shot command such as the terminal's): no connection outlives its use.
        `limits`: from the bot's settings (`ALP_STATE__*`); read from the environment when not given."""
        self.limits = limits = limits or StateStoreLimits()
        sync_url = sqlalchemy_url(state_url)
        sync_engine = sa.create_engine(sync_url, connect_args=_connect_args(sync_url, limits))
        bound_transactions(sync_engine, limits, migrating=True)
        if sync_url.startswith("sqlite"):
            serialised_writes(sync_engine)
        try:
            migrate(sync_engine)
        except MigrationFailed as err:
            limit = f"ALP_STATE__MIGRATION_TIMEOUT_S={limits.migration_timeout_s:g}s"
            within = f" within {limit} (a lock held by another session, or a long statement)" if _timed_out(err) else ""
            doing = f"migrate its schema from revision {err.revision} to {err.head}{within}"
            raise state_store_error(
                err.cause, state_url, doing, f"; nothing was changed, it is still at revision {err.revision}"
            ) from None
        except sa.exc.SQLAlchemyError as err:
            raise state_store_error(err, state_url, "be opened") from None
        finally:
            sync_engine.dispose()
        url = async_url(state_url)
        options: dict[str, Any] = {"pool_pre_ping": True} if pooled else {"poolclass": NullPool}
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url, connect_args=_connect_args(url, limits), **options)
        bound_transactions(self.engine.sync_engine, limits)
        if url.startswith("sqlite"):
            serialised_writes(self.engine.sync_engine)

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self, timeout_s: float) -> str | None:
        """None when the database answers within `timeout_s` seconds, else why not."""

        async def select_one() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

        try:
            await asyncio.wait_for(select_one(), timeout_s)
            return None
        except TimeoutError:
            return f"no answer within {timeout_s:g}s"
        except sa.exc.SQLAlchemyError as err:
            return f"{type(err).__name__}: {str(err).splitlines()[0]}"
