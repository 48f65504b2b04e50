"""The one wiring of a check's context in the bot and the terminal: what `/alp health` gets, every
other run gets too (an alert's routed check, the handoff report's `health` run, the ladder's re-runs
before a page and on resolve, `alp check`). A run wired by hand elsewhere lost a piece (the handoff's
`health` said "the state store's reader is not wired"); this is the place to add one.

`CheckContext.audit_reader`: alp's own actions from the state store (`alp changes`, the "recent
changes" line); `CheckContext.oncall`: `check oncall`'s evidence (schedules, Slack, the pager)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from commands.registry import CheckContext, CheckResult, ProgressFn

if TYPE_CHECKING:
    from commands.changes.audit import AuditRead


async def oncall_evidence(settings: Any) -> CheckResult:
    """`check oncall`'s evidence (bot/oncall/check.py: the state store, calendars), imported when asked:
    the terminal's one check does not pay for SQLAlchemy, Alembic and the calendars."""
    from bot.oncall.check import oncall_evidence as gather

    return await gather(settings)


async def changes_since(state_url: str, since: datetime) -> AuditRead:
    """alp's audit log from the state store since `since` (imported when first needed)."""
    from escalation.state.audit import changes_since as read

    return await read(state_url, since)


WIRING: dict[str, Any] = {"audit_reader": changes_since, "oncall": oncall_evidence}
"""The hooks a check is handed in this process (also `RemediationFlow`'s, for its re-checks)."""


def check_context(settings: Any, progress: ProgressFn | None = None) -> CheckContext:
    """A check's context with everything this process wires (`settings`: the bot's `Settings`)."""
    return CheckContext(settings, progress, **WIRING)
