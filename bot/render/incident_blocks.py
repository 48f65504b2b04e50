"""Incidents, pages and the recovery checklist as Block Kit (data comes from escalation/)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.render.blocks import (
    Block,
    actions,
    button,
    checkboxes,
    context,
    header,
    modal,
    section,
    select_input,
    text_input,
)
from bot.render.escape import clean, escape
from bot.render.report_blocks import fit
from bot.render.verdict_blocks import verdict_blocks
from commands.masking.redact import redact
from escalation.ladder.pages import Page, next_page
from escalation.model import Incident, IncidentStatus, TimelineEntry

EMOJI = {
    IncidentStatus.TRIGGERED: ":rotating_light:",
    IncidentStatus.ACKNOWLEDGED: ":eyes:",
    IncidentStatus.RESOLVED: ":white_check_mark:",
}


def incident_blocks(inc: Incident, at: datetime, entries: Sequence[TimelineEntry] = ()) -> tuple[str, list[Block]]:
    """The announcement, updated in place as the incident changes, as of `at` (now, on the ladder's
    clock); with its timeline `entries`, the verdicts it rests on, newest first, and those they
    superseded (`verdict_blocks`)."""
    title = redact(f"{EMOJI[inc.status]} {inc.ref} · {inc.priority.value} · {inc.summary}")
    title = title if len(title) <= 150 else title[:149] + "…"  # plain text header; the summary is in full below
    nxt = next_page(inc, at)
    fields = {
        "Status": inc.status.value
        + (f" by <@{inc.acked_by}>" if inc.status is IncidentStatus.ACKNOWLEDGED else "")
        + (f" by <@{inc.resolved_by}>" if inc.status is IncidentStatus.RESOLVED else ""),
        "Priority": inc.priority.value,
        "Opened by": f"<@{inc.opened_by}> at {inc.opened_at:%H:%M}Z",
        "Next page": nxt,
        "Summary": fit(clean(inc.summary), FIELD, f"`/alp incident show {inc.id}`"),
        "Impact": fit(clean(inc.impact), FIELD, f"`/alp incident show {inc.id}`")
        if inc.impact
        else "_not assessed yet_",
        "Services": clean(", ".join(inc.services)) if inc.services else "_not set_",
    }
    # phone-first: the header and the next action (Acknowledge) on the first screen, the fields below
    blocks = [header(title)]
    value = str(inc.id)
    if inc.status is not IncidentStatus.RESOLVED:
        buttons = [
            button("Escalate now", "incident_escalate", f"{inc.id}:{inc.next_step}", "danger"),
            button("Add note", "incident_note", value),
            button("Resolve", "incident_resolve", value),
        ]
        if inc.status is IncidentStatus.TRIGGERED:
            buttons.insert(0, button("Acknowledge", "incident_ack", value, "primary"))
        blocks.append(actions(buttons, f"incident_{inc.id}"))
    blocks += [section(fields=[f"*{k}*\n{v}" for k, v in fields.items()]), *verdict_blocks(entries)]
    ladder = " → ".join(f"{s.name} {s.mention}" for s in inc.ladder)
    blocks.append(context(f"Ladder: {ladder}"))
    return f"{inc.ref} {inc.priority.value} {inc.status.value}: {clean(inc.summary)}", blocks


FIELD = 1900  # a section field holds 2000 characters
HEADLINE = 600  # the incident as the page's headline names it: the summary is in full in its field


def page_blocks(page: Page) -> tuple[str, list[Block]]:
    """The page: its headline (the on-call's mention live, the incident's words as text) and the
    runbook's six fields, each within Slack's limits, saying what is left out and where to read it."""
    ref = page.incident.split(" ", 1)[0]
    where = f"`/alp incident show {ref.removeprefix('INC-')}`"
    text = f"{page.mention} you are paged for {fit(clean(page.incident), HEADLINE, where)} ({escape(page.step)})"
    fields = [f"*{k}*\n{fit(clean(v), FIELD, where)}" for k, v in page.fields().items()]
    blocks = [section(f":rotating_light: *{text}*")]
    number = ref.removeprefix("INC-")
    if number.isdigit():  # the paged person's one next action, on the first screen of a phone
        blocks.append(actions([button("Acknowledge", "incident_ack", number, "primary")], f"page_{number}"))
    return text, [*blocks, section(fields=fields)]


JUDGED = {"done": ":white_check_mark:", "not done": ":fire:", "unknown": ":grey_question:"}
STATE_WORDS = {"done": "done (ticked by alp)", "not done": "not done", "unknown": "UNKNOWN (could not be judged)"}


def judged_block(judged: dict[str, dict[str, Any]], read_at: str) -> Block:
    """The items alp judged (escalation/ladder/recovery.py): each one's state and its evidence."""
    lines = []
    for item, j in judged.items():
        state = str(j.get("state", "unknown"))
        evidence = "; ".join(str(e) for e in j.get("evidence") or [])
        evidence = evidence if len(evidence) <= 600 else evidence[:599] + "…"
        lines.append(
            f"{JUDGED.get(state, ':grey_question:')} *{clean(item)}*: {STATE_WORDS.get(state, clean(state))}"
            + (f": {clean(evidence)}" if evidence else "")
        )
    return section(f"*Judged by alp* (read at {read_at}):\n" + "\n".join(lines))


def checklist_blocks(
    inc: Incident, judged: dict[str, dict[str, Any]] | None = None, read_at: str = ""
) -> tuple[str, list[Block]]:
    """The recovery checklist with its checkboxes; with the items alp `judged` (read at `read_at`),
    each one's state and evidence."""
    shown = {k: v for k, v in (judged or {}).items() if k in inc.checklist}
    return f"{inc.ref} resolved: recovery checklist", [
        section(f":white_check_mark: *{inc.ref} resolved.* Recovery checklist:"),
        actions([checkboxes("incident_checklist", inc.checklist)], f"checklist_{inc.id}"),
        *([judged_block(shown, read_at)] if shown else []),
        actions(
            [
                button("Verify services healthy: run /alp health", "incident_run_health", str(inc.id), "primary"),
                button("Postmortem draft", "incident_postmortem", str(inc.id)),
            ],
            f"verify_{inc.id}",
        ),
    ]


def open_modal(summary: str = "", impact: str = "", channel: str = "", *, services: Sequence[str]) -> Block:
    """The 'open incident' form, optionally pre-filled from a finding; `services` are what it
    offers as affected (`PlatformSettings.components()`: the configured services, then the
    infrastructure)."""
    priorities = (("P0", "P0: outage, page now"), ("P1", "P1: escalate in 30 min"), ("P2", "P2: escalate in 2 h"))
    return modal(
        "incident_open_modal",
        "Open incident",
        "Open",
        [
            text_input("summary", "Summary", summary[:3000], multiline=False, optional=False),
            text_input("impact", "Impact (services and users affected)", impact[:3000], multiline=True, optional=True),
            select_input("services", "Affected services", [(s, s) for s in services], multi=True, optional=True),
            select_input("priority", "Priority", priorities, initial="P1"),
        ],
        private_metadata=channel,
    )


def note_modal(incident_id: int) -> Block:
    return modal(
        "incident_note_modal", "Add note", "Add", [text_input("note", "Note", multiline=True)], str(incident_id)
    )
