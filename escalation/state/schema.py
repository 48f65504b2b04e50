"""The state store's tables (SQLAlchemy Core). Alembic migrations in escalation/state/migrations/
create and change them; this module is what the code reads and writes (keep the two in step).

Escalation durability lives in the columns: an incident's `next_step` and `next_due_at` say which
rung is due when, `ack_due_at`/`remind_at` when an acknowledgement times out or is reminded;
`alp_pages` is the delivery outbox (one row per incident step and event, claimed per attempt with a lease);
`alp_leases` holds the escalation leader's expiring lease.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
TS = sa.DateTime(timezone=True)

incidents = sa.Table(
    "alp_incidents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("priority", sa.String(4), nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("impact", sa.Text, nullable=False, default=""),
    sa.Column("services", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("opened_by", sa.String(64), nullable=False),
    sa.Column("opened_at", TS, nullable=False),
    sa.Column("ladder", sa.JSON, nullable=False),
    sa.Column("next_step", sa.Integer, nullable=False, default=0),
    sa.Column("escalation_id", sa.String(40)),
    sa.Column("announced", sa.Boolean, nullable=False, default=False),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("acked_by", sa.String(64)),
    sa.Column("acked_at", TS),
    sa.Column("resolved_by", sa.String(64)),
    sa.Column("resolved_at", TS),
    sa.Column("checklist", sa.JSON, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, default=0),
    # added by migration 0002
    sa.Column("next_due_at", TS),  # when ladder[next_step] is due (NULL: nothing due)
    sa.Column("ack_due_at", TS),  # acknowledged and not resolved by then: back to triggered
    sa.Column("remind_at", TS),  # next "still acknowledged" reminder
    sa.Column("external_key", sa.String(200)),  # e.g. an Alertmanager group key (open_for_key)
)

timeline = sa.Table(
    "alp_timeline",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, sa.ForeignKey("alp_incidents.id"), nullable=False, index=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

pages = sa.Table(
    "alp_pages",
    metadata,
    sa.Column("incident_id", sa.Integer, nullable=False),
    sa.Column("escalation_id", sa.String(40), nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, sent, abandoned (failed: before 0002)
    sa.Column("due_at", TS),
    sa.Column("claimed_at", TS, nullable=False),
    sa.Column("sent_at", TS),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("error", sa.Text),
    # added by migration 0002
    sa.Column("next_attempt_at", TS),  # a pending page is tried again from then on
    sa.Column("lease_until", TS),  # an attempt in flight; past this, a crashed attempt is retried
    sa.Column("failing_since", TS),
    # added by migration 0005: trigger (the page), or the pager alert's acknowledge / resolve
    sa.Column("event_action", sa.String(16), nullable=False, server_default="trigger"),
    sa.PrimaryKeyConstraint("incident_id", "escalation_id", "step", "event_action"),
)

audit = sa.Table(
    "alp_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", TS, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("result", sa.Text, nullable=False, default=""),
    sa.Column("incident_id", sa.Integer),
)

action_requests = sa.Table(
    "alp_action_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("risk", sa.String(16), nullable=False),
    sa.Column("requester", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column(
        "status", sa.String(24), nullable=False
    ),  # pending, awaiting_approval, running, done, failed, interrupted, ...
    sa.Column("created_at", TS, nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("preview", sa.JSON, nullable=False),
    sa.Column("confirmed_by", sa.String(64)),
    sa.Column("approver", sa.String(64)),
    sa.Column("approval_deadline", TS),
    sa.Column("outcome", sa.JSON),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("thread_ts", sa.String(32)),
    # added by migration 0008: the process running it, and until when its heartbeat vouches for it
    sa.Column("run_by", sa.String(128)),
    sa.Column("run_until", TS),
)

leases = sa.Table(
    "alp_leases",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("expires_at", TS, nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),  # +1 each time the lease changes hands
)

# Alertmanager alert groups' episodes (escalation.state.alert_groups); created by migration 0003
alert_groups = sa.Table(
    "alp_alert_groups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("group_key", sa.Text, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # firing, resolved
    # The group key while the episode fires, NULL once resolved: at most one firing episode per
    # group, even when two replicas hear the same group at once.
    sa.Column("open_key", sa.Text, unique=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("message_ts", sa.String(32)),
    sa.Column("incident_id", sa.Integer, index=True),
    sa.Column("previous_incident_id", sa.Integer),
    sa.Column("alerts", sa.JSON, nullable=False),  # fingerprint -> {status, labels, annotations, startsAt, ...}
    sa.Column("common_labels", sa.JSON, nullable=False),
    sa.Column("route", sa.JSON, nullable=False),  # {check, args, priority} or {} when nothing matched
    sa.Column("silences", sa.JSON, nullable=False),  # Alertmanager silence ids made from the buttons
    sa.Column("notifications", sa.Integer, nullable=False, default=0),
    sa.Column("opened_at", TS, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

# What identifies an alert across group keys (escalation.state.alert_groups): Alertmanager's
# fingerprint (its labels) and startsAt (this firing of it). Created by migration 0006.
alert_instances = sa.Table(
    "alp_alert_instances",
    metadata,
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("starts_at", sa.String(64), nullable=False),  # as Alertmanager sent it
    sa.Column("episode_id", sa.Integer, index=True),  # NULL: heard only resolved, never firing
    sa.Column("status", sa.String(16), nullable=False),  # firing, resolved (never back to firing)
    sa.Column("updated_at", TS, nullable=False),
    sa.PrimaryKeyConstraint("fingerprint", "starts_at"),
)

# On-call overrides and handoff claims (escalation.oncall); created by migration 0007
oncall_overrides = sa.Table(
    "alp_oncall_overrides",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("schedule", sa.String(64), nullable=False, index=True),
    sa.Column("user_id", sa.String(64), nullable=False),  # who covers
    sa.Column("start_at", TS, nullable=False),  # UTC, half-open [start_at, end_at)
    sa.Column("end_at", TS, nullable=False),
    sa.Column("replaces", sa.String(64)),  # who it relieves (informational: it covers whoever is on)
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("cancelled_by", sa.String(64)),  # undone: kept for the audit, no longer applied
    sa.Column("cancelled_at", TS),
)

oncall_handoffs = sa.Table(  # one row per schedule, handoff instant and side effect: claimed once
    "alp_oncall_handoffs",
    metadata,
    sa.Column("schedule", sa.String(64), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # group-sync, report
    sa.Column("users", sa.JSON, nullable=False),
    sa.Column("claimed_by", sa.String(128), nullable=False),
    sa.Column("claimed_at", TS, nullable=False),
    sa.Column("done_at", TS),
    sa.Column("result", sa.Text, nullable=False, default=""),
    sa.PrimaryKeyConstraint("schedule", "at", "kind"),
)

# Side effects owed by incidents' state changes (escalation.state.effects); created by migration 0008
effects = sa.Table(
    "alp_effects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("incident_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),  # announce, checklist, update, say
    sa.Column("status", sa.String(16), nullable=False),  # pending, done
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", TS, nullable=False),
    sa.Column("lease_until", TS),  # an attempt in flight; past this, a crashed attempt is retried
    sa.Column("error", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("done_at", TS),
    # added by migration 0009: the change that owes it ("v<version>"; "" once per incident), the line to post
    sa.Column("occasion", sa.String(32), nullable=False, server_default=""),
    sa.Column("text", sa.Text),
    sa.UniqueConstraint("incident_id", "kind", "occasion", name="uq_alp_effects_incident_kind_occasion"),
)
