"""The pager's alert lifecycle: an outbox row per page and event (`alp_pages.event_action`).

Rows so far are the pages themselves (`trigger`); a pager step's `acknowledge` and `resolve` events
(PagerDuty Events API v2) are rows of their own, so the primary key gains the event.

Revision ID: 0005
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"


def upgrade() -> None:
    pk = sa.inspect(op.get_bind()).get_pk_constraint("alp_pages").get("name")
    with op.batch_alter_table("alp_pages", recreate="auto") as batch:
        batch.add_column(sa.Column("event_action", sa.String(16), nullable=False, server_default="trigger"))
        if pk:
            batch.drop_constraint(pk, type_="primary")
        batch.create_primary_key("alp_pages_pkey", ["incident_id", "escalation_id", "step", "event_action"])


def downgrade() -> None:
    op.execute("DELETE FROM alp_pages WHERE event_action <> 'trigger'")
    with op.batch_alter_table("alp_pages") as batch:
        batch.drop_constraint("alp_pages_pkey", type_="primary")
        batch.create_primary_key("alp_pages_pkey", ["incident_id", "escalation_id", "step"])
        batch.drop_column("event_action")
