"""Database plumbing shared by the store's modules: UTC times, the URL, migrations at start-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATED: set[str] = set()  # databases this process has already brought up to date


def now() -> datetime:
    return datetime.now(UTC)


def sqlalchemy_url(state_url: str) -> str:
    """ALP_STATE_URL as SQLAlchemy wants it (PostgreSQL through psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if state_url.startswith(prefix):
            return "postgresql+psycopg://" + state_url[len(prefix) :]
    return state_url


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision. A database made by `create_all` before migrations
    existed is stamped 0001 first. On PostgreSQL an advisory lock keeps replicas starting together
    from migrating at once."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _MIGRATED:
        return
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7367012)"))
        inspector = sa.inspect(conn)
        cfg.attributes["connection"] = conn
        if inspector.has_table("alp_incidents") and not inspector.has_table("alp_schema_version"):
            command.stamp(cfg, "0001")
        command.upgrade(cfg, "head")
    _MIGRATED.add(key)
