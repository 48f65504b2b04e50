"""On-call: overrides of the schedules (absolute UTC intervals) and the handoff claims that make
each user-group sync and handoff report happen once across replicas.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alp_oncall_overrides",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(64), nullable=False, index=True),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("start_at", TS, nullable=False),
        sa.Column("end_at", TS, nullable=False),
        sa.Column("replaces", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("cancelled_by", sa.String(64)),
        sa.Column("cancelled_at", TS),
    )
    op.create_table(
        "alp_oncall_handoffs",
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),  # group-sync, report
        sa.Column("users", sa.JSON, nullable=False),
        sa.Column("claimed_by", sa.String(128), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("done_at", TS),
        sa.Column("result", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("schedule", "at", "kind"),
    )


def downgrade() -> None:
    op.drop_table("alp_oncall_handoffs")
    op.drop_table("alp_oncall_overrides")
