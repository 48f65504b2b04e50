"""Side effects owed per state change (issue #22): an incident's message update and a thread line
(the acknowledgement's) are owed by each change that makes them, so `alp_effects` rows carry the
change they belong to (`occasion`, "v<version>" of the incident after it; "" for the announcement
and the checklist, owed once) and the line to post (`text`).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    with op.batch_alter_table("alp_effects") as batch:
        batch.add_column(sa.Column("occasion", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("text", sa.Text))
        batch.drop_constraint("uq_alp_effects_incident_kind", type_="unique")
        batch.create_unique_constraint("uq_alp_effects_incident_kind_occasion", ["incident_id", "kind", "occasion"])


def downgrade() -> None:
    op.execute("DELETE FROM alp_effects WHERE occasion <> ''")
    with op.batch_alter_table("alp_effects") as batch:
        batch.drop_constraint("uq_alp_effects_incident_kind_occasion", type_="unique")
        batch.create_unique_constraint("uq_alp_effects_incident_kind", ["incident_id", "kind"])
        batch.drop_column("text")
        batch.drop_column("occasion")
