"""What a page carries: the runbook's six pieces of escalation information, filled in by the bot."""

from __future__ import annotations

from dataclasses import dataclass, field

from escalation.model import Incident, Step, TimelineEntry

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
            + ("\nChanges since 1 h before it opened:\n" + "\n".join(self.changes) if self.changes else ""),
        }

    def text(self) -> str:
        head = f"{self.mention}: {self.incident} needs you ({self.step})"
        return head + "\n" + "\n".join(f"*{k}*: {v}" for k, v in self.fields().items())


def _when(e: TimelineEntry) -> str:
    return e.at.strftime("%H:%M:%SZ")


def build_page(
    inc: Incident, step: Step, entries: list[TimelineEntry], max_lines: int = 8, changes: list[str] | None = None
) -> Page:
    """Fill the six fields from the incident's record."""
    opened = f"{inc.opened_at:%Y-%m-%d %H:%M:%SZ} opened by <@{inc.opened_by}>"
    story = [f"{_when(e)} {e.text}" for e in entries if e.kind not in ("check", "action", "evidence")]
    steps = [
        f"{_when(e)} <@{e.actor}> {e.text}" if e.actor != "alp" else f"{_when(e)} {e.text}"
        for e in entries
        if e.kind in STEP_KINDS
    ]
    evidence: list[str] = []
    for e in reversed(entries):
        if e.kind == "check" and e.data.get("findings"):
            evidence = [f"{e.data.get('target')}: {line}" for line in e.data["findings"]]
            break
    status = f"{inc.status.value}, {inc.priority.value}; ongoing since {inc.opened_at:%H:%M:%SZ}"
    return Page(
        incident=f"{inc.ref} [{inc.priority.value}] {inc.summary}",
        step=step.name,
        mention=step.mention,
        summary=inc.summary,
        impact=inc.impact + (f" (services: {', '.join(inc.services)})" if inc.services else ""),
        timeline=[opened, *story[1:]][-max_lines:],
        steps_taken=steps[-max_lines:],
        status=status,
        evidence=evidence[:max_lines],
        changes=(changes or [])[:max_lines],
    )
