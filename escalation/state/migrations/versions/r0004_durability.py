"""Durability, round 2 (issue #22): a remediation run's process and heartbeat
(`alp_action_requests.run_by`, `run_until`), so whoever leads can tell a run whose process died.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alp_action_requests") as batch:
        batch.add_column(sa.Column("run_by", sa.String(128)))
        batch.add_column(sa.Column("run_until", TS))


def downgrade() -> None:
    with op.batch_alter_table("alp_action_requests") as batch:
        batch.drop_column("run_until")
        batch.drop_column("run_by")
