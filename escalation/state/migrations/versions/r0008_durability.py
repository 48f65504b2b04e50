"""Durability, round 2 (issue #22): a remediation run's process and heartbeat
(`alp_action_requests.run_by`, `run_until`), so whoever leads can tell a run whose process died;
the side effects incidents' state changes owe (`alp_effects`, escalation.state.effects).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("alp_action_requests") as batch:
        batch.add_column(sa.Column("run_by", sa.String(128)))
        batch.add_column(sa.Column("run_until", TS))
    op.create_table(
        "alp_effects",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_until", TS),
        sa.Column("error", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("done_at", TS),
        sa.UniqueConstraint("incident_id", "kind", name="uq_alp_effects_incident_kind"),
    )
    op.create_index("ix_alp_effects_pending", "alp_effects", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alp_effects_pending", "alp_effects")
    op.drop_table("alp_effects")
    with op.batch_alter_table("alp_action_requests") as batch:
        batch.drop_column("run_until")
        batch.drop_column("run_by")
