"""What a page carries: the runbook's six pieces of escalation information, filled in by the bot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from escalation.model import Incident, IncidentStatus, Rung, TimelineEntry

STEP_KINDS = ("check", "action")


@dataclass
class Page:
    """The runbook's "Escalation Information to Provide", as data."""

    incident: str
    step: str
    mention: str
    summary: str
    impact: str
    timeline: list[str]
    steps_taken: list[str]
    status: str
    evidence: list[str]
    changes: list[str] = field(default_factory=list)  # from one hour before it opened (commands.changes)

    def fields(self) -> dict[str, str]:
        """The six fields, in the runbook's order, as text."""
        return {
            "Incident Summary": self.summary,
            "Impact Assessment": self.impact or "not assessed yet",
            "Timeline": "\n".join(self.timeline) or "-",
            "Steps Taken": "\n".join(self.steps_taken) or "none recorded yet",
            "Current Status": self.status,
            "Logs and Evidence": ("\n".join(self.evidence) or "no checks run yet")
            + ("\nChanges (from 1 h before it opened):\n" + "\n".join(self.changes) if self.changes else ""),
        }

    def text(self) -> str:
        head = f"{self.mention}: {self.incident} needs you ({self.step})"
        return head + "\n" + "\n".join(f"*{k}*: {v}" for k, v in self.fields().items())


def next_page(inc: Incident, at: datetime) -> str:
    """Who is paged next and when, as every incident message says it: "secondary (@platform-oncall)
    at 17:45Z (in 30 min) unless acknowledged"; or why nobody is (acknowledged, resolved, ladder done).
    `at`: now, on the ladder's clock (commands/runtime/clock.py)."""
    if inc.status is IncidentStatus.ACKNOWLEDGED:
        return "none: acknowledged" + (f" at {inc.acked_at:%H:%M}Z" if inc.acked_at else "")
    if inc.status is IncidentStatus.RESOLVED:
        return "none: resolved"
    if inc.next_step >= len(inc.ladder):
        return "none: every step of the ladder has been paged"
    rung = inc.ladder[inc.next_step]
    who = f"{rung.name} ({rung.mention})"
    if inc.next_due_at is None:
        return f"{who} unless acknowledged"
    minutes = max(0, math.ceil(((inc.next_due_at - at).total_seconds()) / 60))
    return f"{who} at {inc.next_due_at:%H:%M}Z (in {minutes} min) unless acknowledged"


def _when(e: TimelineEntry) -> str:
    return e.at.strftime("%H:%M:%SZ")


def taken_at(e: TimelineEntry) -> datetime:
    """When a check entry's evidence was read (`taken_at` of its data), else when it was recorded."""
    raw = e.data.get("taken_at")
    try:
        return datetime.fromisoformat(str(raw)) if raw else e.at
    except ValueError:
        return e.at


def verdicts(entries: list[TimelineEntry]) -> tuple[list[TimelineEntry], list[TimelineEntry]]:
    """The incident's check verdicts: the newest of each check (newest first) and the earlier ones
    they superseded (newest first)."""
    checks = [e for e in entries if e.kind == "check" and e.data.get("target")]
    newest: dict[str, TimelineEntry] = {}
    for e in sorted(checks, key=taken_at):
        newest[str(e.data["target"])] = e
    current = sorted(newest.values(), key=taken_at, reverse=True)
    earlier = [e for e in sorted(checks, key=taken_at, reverse=True) if all(e is not c for c in current)]
    return current, earlier


def verdict_lines(e: TimelineEntry) -> list[str]:
    """A check verdict with the time its evidence was read: "17:05:20Z deadlocks: OK (after
    terminate-queries pids=812)", then its findings (worst first), one a line."""
    why = e.data.get("why")
    head = f"{taken_at(e):%H:%M:%SZ} {e.data.get('target')}: {str(e.data.get('severity', '?')).upper()}"
    findings = [str(f) for f in e.data.get("findings") or []]
    if findings and findings[0].startswith("OK: ") and len(findings) == 1:
        head, findings = f"{head}: {findings[0][4:]}", []
    return [head + (f" ({why})" if why else ""), *(f"  {f}" for f in findings)]


def build_page(
    inc: Incident,
    step: Rung,
    entries: list[TimelineEntry],
    at: datetime,
    max_lines: int = 8,
    changes: list[str] | None = None,
) -> Page:
    """Fill the six fields from the incident's record; `at`: now, on the ladder's clock."""
    opened = f"{inc.opened_at:%Y-%m-%d %H:%M:%SZ} opened by <@{inc.opened_by}>"
    story = [f"{_when(e)} {e.text}" for e in entries if e.kind not in ("check", "action", "evidence")]
    steps = [
        f"{_when(e)} <@{e.actor}> {e.text}" if e.actor != "alp" else f"{_when(e)} {e.text}"
        for e in entries
        if e.kind in STEP_KINDS
    ]
    now, history = verdicts(entries)
    evidence = [line for e in now for line in verdict_lines(e)]
    if history:
        evidence += ["Earlier verdicts (superseded):", *(f"  {verdict_lines(e)[0]}" for e in history)]
    status = f"{inc.status.value}, {inc.priority.value}; open since {inc.opened_at:%H:%M:%SZ}"
    if now:
        status += ". Now: " + "; ".join(
            f"{e.data.get('target')} {str(e.data.get('severity', '?')).upper()} at {taken_at(e):%H:%M:%SZ}" for e in now
        )
    done = [e for e in entries if e.kind == "action"]
    if done:
        status += ". Actions: " + "; ".join(
            f"{_when(e)} {e.text} ({'succeeded' if e.data.get('ok') else 'failed'})" for e in done[-3:]
        )
    status += f". Next page: {next_page(inc, at)}"
    return Page(
        incident=f"{inc.ref} [{inc.priority.value}] {inc.summary}",
        step=step.name,
        mention=step.mention,
        summary=inc.summary,
        impact=inc.impact + (f" (services: {', '.join(inc.services)})" if inc.services else ""),
        timeline=[opened, *story[1:]][-max_lines:],
        steps_taken=steps[-max_lines:],
        status=status,
        evidence=evidence[: max_lines * 2],
        changes=(changes or [])[:max_lines],
    )
