"""A postmortem draft in Markdown, from the incident's record."""

from __future__ import annotations

from commands.report import one_line
from commands.runbook.propose import ActionTaken, CheckSeen, proposed_entry
from escalation.model import Incident, TimelineEntry


def postmortem_markdown(inc: Incident, entries: list[TimelineEntry], changes: list[str] | None = None) -> str:
    """The draft; every foreign value (a summary, a note, a change line) stays on its own line or
    item (`one_line`), so none can add a heading or a timeline entry."""

    def when(e: TimelineEntry) -> str:
        return f"{e.at:%Y-%m-%d %H:%M:%S}Z"

    duration = ((inc.resolved_at or entries[-1].at) - inc.opened_at) if entries else None
    lines = [
        f"# Postmortem draft: {inc.ref} [{inc.priority.value}] {one_line(inc.summary)}",
        "",
        "## Summary",
        "",
        f"- **Status:** {inc.status.value}",
        f"- **Opened:** {inc.opened_at:%Y-%m-%d %H:%M:%S}Z by {one_line(inc.opened_by)}",
        f"- **Acknowledged:** {f'{inc.acked_at:%H:%M:%S}Z by {inc.acked_by}' if inc.acked_at else 'never'}",
        f"- **Resolved:** {f'{inc.resolved_at:%H:%M:%S}Z by {inc.resolved_by}' if inc.resolved_at else 'not yet'}",
        f"- **Duration:** {str(duration).split('.')[0] if duration else 'n/a'}",
        f"- **Impact:** {one_line(inc.impact) or 'to be written'}",
        f"- **Services:** {one_line(', '.join(inc.services)) or 'to be written'}",
        "",
        "## Timeline",
        "",
        *(f"- {when(e)} — {one_line(e.actor)}: {one_line(e.text)}" for e in entries),
        "",
        "## Actions taken",
        "",
        *(
            [f"- {when(e)} — {one_line(e.actor)}: {one_line(e.text)}" for e in entries if e.kind in ("check", "action")]
            or ["- none recorded"]
        ),
        "",
        "## Evidence",
        "",
    ]
    checks = [e for e in entries if e.kind == "check" and e.data.get("findings")]
    for e in checks[-5:]:
        lines.append(f"### {one_line(str(e.data.get('target')))} at {when(e)}")
        lines += [f"- {one_line(str(f))}" for f in e.data["findings"]]
        lines.append("")
    if not checks:
        lines += ["- no checks recorded", ""]
    lines += ["## Changes from one hour before it opened", ""]
    lines += [f"- {one_line(c)}" for c in changes] if changes else ["- not gathered"]
    lines += ["", "## Recovery checklist", ""]
    lines += [f"- [{'x' if done else ' '}] {one_line(item)}" for item, done in inc.checklist.items()]
    lines += ["", "## Root cause", "", "_To be written._", "", "## Follow-ups", "", "- [ ] _To be written._", ""]
    proposal = proposed_entry(
        inc.ref,
        inc.summary,
        list(inc.services),
        [
            CheckSeen(
                str(e.data["target"]), str(e.data.get("severity", "")), list(e.data.get("findings") or []), when(e)
            )
            for e in entries
            if e.kind == "check" and e.data.get("target")
        ],
        [
            ActionTaken(str(e.data["action"]), dict(e.data.get("params") or {}), bool(e.data.get("ok")), when(e))
            for e in entries
            if e.kind == "action" and e.data.get("action")
        ],
    )
    if proposal:
        lines += ["## Proposed runbook entry", "", "```yaml", proposal.rstrip("\n"), "```", ""]
    return "\n".join(lines)
