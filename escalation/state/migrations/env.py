"""Alembic's entry point: migrations run on the connection `escalation.state.store.migrate` hands over."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, version_table="alp_schema_version", render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
