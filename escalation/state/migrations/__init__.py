"""Alembic migrations of the state store, run at start-up by `escalation.state.store.migrate`."""
