"""Rows of the state store as the model's objects: an `alp_incidents` row -> `Incident`.
Shared by escalation/state/store.py and escalation/state/outbox.py (which store.py imports)."""

from __future__ import annotations

from typing import Any

from escalation.model import Incident, IncidentStatus, Priority, Rung
from escalation.state.db import aware


def incident_of(row: Any) -> Incident:
    """An `alp_incidents` row (a mapping) as an `Incident`; times made timezone-aware (UTC)."""
    return Incident(
        id=row["id"],
        priority=Priority(row["priority"]),
        summary=row["summary"],
        impact=row["impact"] or "",
        services=list(row["services"] or []),
        status=IncidentStatus(row["status"]),
        channel=row["channel"],
        opened_by=row["opened_by"],
        opened_at=aware(row["opened_at"]),  # type: ignore[arg-type]
        ladder=[Rung.from_dict(s) for s in row["ladder"]],
        next_step=row["next_step"],
        escalation_id=row["escalation_id"],
        message_ts=row["message_ts"],
        acked_by=row["acked_by"],
        acked_at=aware(row["acked_at"]),
        resolved_by=row["resolved_by"],
        resolved_at=aware(row["resolved_at"]),
        checklist=dict(row["checklist"] or {}),
        version=row["version"],
        next_due_at=aware(row["next_due_at"]),
        ack_due_at=aware(row["ack_due_at"]),
        remind_at=aware(row["remind_at"]),
        external_key=row["external_key"],
    )
