"""The pager's alert lifecycle: an outbox row per page and event (`alp_pages.event_action`).

Rows so far are the pages themselves (`trigger`); a pager step's `acknowledge` and `resolve` events
(PagerDuty Events API v2) are rows of their own, so the primary key gains the event. SQLite cannot
change a primary key in place: there the table is copied into its new shape.

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"

TS = sa.DateTime(timezone=True)
KEY = ["incident_id", "escalation_id", "step", "event_action"]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        pk = sa.inspect(bind).get_pk_constraint("alp_pages").get("name") or "alp_pages_pkey"
        op.add_column("alp_pages", sa.Column("event_action", sa.String(16), nullable=False, server_default="trigger"))
        op.drop_constraint(pk, "alp_pages", type_="primary")
        op.create_primary_key("alp_pages_pkey", "alp_pages", KEY)
        return
    old = [c["name"] for c in sa.inspect(bind).get_columns("alp_pages")]
    op.create_table(
        "alp_pages_0005",
        sa.Column("incident_id", sa.Integer, nullable=False),
        sa.Column("escalation_id", sa.String(40), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_at", TS),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("next_attempt_at", TS),
        sa.Column("lease_until", TS),
        sa.Column("failing_since", TS),
        sa.Column("event_action", sa.String(16), nullable=False, server_default="trigger"),
        sa.PrimaryKeyConstraint(*KEY),
    )
    cols = ", ".join(old)
    op.execute(f"INSERT INTO alp_pages_0005 ({cols}) SELECT {cols} FROM alp_pages")
    op.drop_table("alp_pages")
    op.rename_table("alp_pages_0005", "alp_pages")


def downgrade() -> None:
    op.execute("DELETE FROM alp_pages WHERE event_action <> 'trigger'")
    with op.batch_alter_table("alp_pages") as batch:
        batch.drop_column("event_action")
