"""Bounds on the state store's statements and connections (`ALP_STATE__*`): settings only, so loading
the bot's settings imports neither SQLAlchemy nor a driver (the terminal's lean start)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class StateStoreLimits(BaseSettings):
    """Bounds on every statement and connection to a PostgreSQL state store (`ALP_STATE__*`), in
    seconds. SQLite ignores them but `busy_timeout_s` (how long a writer queues on its file lock)."""

    model_config = SettingsConfigDict(env_prefix="ALP_STATE__", extra="ignore")

    statement_timeout_s: float = Field(10.0, gt=0, description="One statement's longest run")
    lock_timeout_s: float = Field(2.0, gt=0, description="Longest wait for a row or table lock")
    idle_in_transaction_timeout_s: float = Field(
        5.0, gt=0, description="A transaction left idle this long (its client gone) is ended by PostgreSQL"
    )
    keepalive_idle_s: int = Field(5, ge=1, description="TCP keepalive: first probe after this much silence")
    keepalive_interval_s: int = Field(2, ge=1, description="TCP keepalive: between probes")
    keepalive_count: int = Field(3, ge=1, description="TCP keepalive: unanswered probes before the connection dies")
    tcp_user_timeout_s: float = Field(15.0, gt=0, description="Data unacknowledged this long kills the connection")
    migration_timeout_s: float = Field(
        120.0, gt=0, description="Statement and lock limit of the migrations at start (another replica may hold them)"
    )
    busy_timeout_s: float = Field(30.0, gt=0, description="SQLite: how long a writer waits for the file lock")

    def settings(self, migrating: bool = False) -> dict[str, str]:
        """The per-transaction settings, as PostgreSQL's `set_config` takes them (milliseconds)."""
        statement = self.migration_timeout_s if migrating else self.statement_timeout_s
        lock = self.migration_timeout_s if migrating else self.lock_timeout_s
        return {
            "statement_timeout": f"{int(statement * 1000)}",
            "lock_timeout": f"{int(lock * 1000)}",
            "idle_in_transaction_session_timeout": f"{int(self.idle_in_transaction_timeout_s * 1000)}",
        }

    def connect_args(self) -> dict[str, Any]:
        """libpq's client-side TCP settings (they hold through PgBouncer: they are the bot's own socket)."""
        return {
            "keepalives": 1,
            "keepalives_idle": self.keepalive_idle_s,
            "keepalives_interval": self.keepalive_interval_s,
            "keepalives_count": self.keepalive_count,
            "tcp_user_timeout": int(self.tcp_user_timeout_s * 1000),
        }
