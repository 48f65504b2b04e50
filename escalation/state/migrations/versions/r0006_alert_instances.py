"""Alerts by what identifies them (`alp_alert_instances`): fingerprint and startsAt -> episode, status.

An alert group's episode is found from its alerts as well as from its groupKey, so a reload that
changes `group_by` carries the episode over and a late firing copy of an alert already resolved is
recognised whatever group key it comes under.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "alp_alert_instances",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.String(64), nullable=False),
        sa.Column("episode_id", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", "starts_at"),
    )
    op.create_index("ix_alp_alert_instances_episode_id", "alp_alert_instances", ["episode_id"])


def downgrade() -> None:
    op.drop_table("alp_alert_instances")
