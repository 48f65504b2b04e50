"""Alertmanager alert groups' episodes (`alp_alert_groups`), created by a migration.

Before this revision `escalation.state.alert_groups` created the table itself (`create_all`) on first use,
so a database may already have it, with data: then it is left exactly as it is (same columns,
indexes and unique key as below).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("alp_alert_groups"):
        return
    op.create_table(
        "alp_alert_groups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("open_key", sa.Text, unique=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message_ts", sa.String(32)),
        sa.Column("incident_id", sa.Integer),
        sa.Column("previous_incident_id", sa.Integer),
        sa.Column("alerts", sa.JSON, nullable=False),
        sa.Column("common_labels", sa.JSON, nullable=False),
        sa.Column("route", sa.JSON, nullable=False),
        sa.Column("silences", sa.JSON, nullable=False),
        sa.Column("notifications", sa.Integer, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_index("ix_alp_alert_groups_group_key", "alp_alert_groups", ["group_key"])
    op.create_index("ix_alp_alert_groups_incident_id", "alp_alert_groups", ["incident_id"])


def downgrade() -> None:
    op.drop_table("alp_alert_groups")
