"""The one wiring of a check's context in the bot and the terminal: what `/alp health` gets, every
other run gets too (an alert's routed check, the handoff report's `health` run, the ladder's re-runs
before a page and on resolve, `alp check`). A run wired by hand elsewhere lost a piece (the handoff's
`health` said "the state store's reader is not wired"); this is the place to add one.

`CheckContext.audit_reader`: alp's own actions from the state store (`alp changes`, the "recent
changes" line); `CheckContext.oncall`: `check oncall`'s evidence (schedules, Slack, the pager)."""

from __future__ import annotations

from typing import Any

from bot.oncall_check import oncall_evidence
from commands.registry import CheckContext, ProgressFn
from escalation.state.audit import changes_since

WIRING: dict[str, Any] = {"audit_reader": changes_since, "oncall": oncall_evidence}
"""The hooks a check is handed in this process (also `RemediationFlow`'s, for its re-checks)."""


def check_context(settings: Any, progress: ProgressFn | None = None) -> CheckContext:
    """A check's context with everything this process wires (`settings`: the bot's `Settings`)."""
    return CheckContext(settings, progress, audit_reader=changes_since, oncall=oncall_evidence)
