"""Incidents, pages and the recovery checklist as Block Kit (data comes from escalation/)."""

from __future__ import annotations

from typing import Any

from bot.escape import clean
from commands.redact import redact
from escalation.model import Incident, Status
from escalation.pages import Page

Block = dict[str, Any]
EMOJI = {Status.TRIGGERED: ":rotating_light:", Status.ACKNOWLEDGED: ":eyes:", Status.RESOLVED: ":white_check_mark:"}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    b: Block = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, "value": value}
    if style:
        b["style"] = style
    return b


def incident_blocks(inc: Incident) -> tuple[str, list[Block]]:
    """The announcement, updated in place as the incident changes."""
    title = redact(f"{EMOJI[inc.status]} {inc.ref} · {inc.priority.value} · {inc.summary}")
    title = title if len(title) <= 150 else title[:149] + "…"  # plain text header; the summary is in full below
    if inc.status is Status.TRIGGERED and inc.next_step < len(inc.ladder):
        rung = inc.ladder[inc.next_step]
        nxt = f"{rung.name} ({rung.mention})"
    else:
        nxt = "none (ladder stopped)" if inc.status is not Status.TRIGGERED else "ladder exhausted"
    fields = {
        "Status": inc.status.value
        + (f" by <@{inc.acked_by}>" if inc.status is Status.ACKNOWLEDGED else "")
        + (f" by <@{inc.resolved_by}>" if inc.status is Status.RESOLVED else ""),
        "Priority": inc.priority.value,
        "Opened by": f"<@{inc.opened_by}> at {inc.opened_at:%H:%M}Z",
        "Next page": nxt,
        "Summary": clean(inc.summary),
        "Impact": clean(inc.impact) if inc.impact else "_not assessed yet_",
        "Services": clean(", ".join(inc.services)) if inc.services else "_not set_",
    }
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in fields.items()]},
    ]
    value = str(inc.id)
    if inc.status is not Status.RESOLVED:
        buttons = [
            _button("Escalate now", "incident_escalate", f"{inc.id}:{inc.next_step}", "danger"),
            _button("Add note", "incident_note", value),
            _button("Resolve", "incident_resolve", value),
        ]
        if inc.status is Status.TRIGGERED:
            buttons.insert(0, _button("Acknowledge", "incident_ack", value, "primary"))
        blocks.append({"type": "actions", "block_id": f"incident_{inc.id}", "elements": buttons})
    ladder = " → ".join(f"{s.name} {s.mention}" for s in inc.ladder)
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Ladder: {ladder}"}]})
    return f"{inc.ref} {inc.priority.value} {inc.status.value}: {clean(inc.summary)}", blocks


def page_blocks(page: Page) -> tuple[str, list[Block]]:
    text = f"{page.mention} you are paged for {page.incident} ({page.step})"
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{_fit(clean(v), page.incident)}"} for k, v in page.fields().items()]
    return text, [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":rotating_light: *{text}*"}},
        {"type": "section", "fields": fields},
    ]


def _fit(text: str, ref: str, limit: int = 1900) -> str:
    """A page field within Slack's 2000 characters, saying what is left out and where to read it."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit("\n", 1)[0] if "\n" in text[:limit] else text[:limit]
    return f"{cut}\n… {len(text) - len(cut)} more characters: `/alp incident show {ref}`"


def checklist_blocks(inc: Incident) -> tuple[str, list[Block]]:
    options: list[Block] = [{"text": {"type": "mrkdwn", "text": item}, "value": item} for item in inc.checklist]
    ticked = [o for o in options if inc.checklist[str(o["value"])]]
    element: Block = {"type": "checkboxes", "action_id": "incident_checklist", "options": options}
    if ticked:
        element["initial_options"] = ticked
    return f"{inc.ref} resolved: recovery checklist", [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f":white_check_mark: *{inc.ref} resolved.* Recovery checklist:"},
        },
        {"type": "actions", "block_id": f"checklist_{inc.id}", "elements": [element]},
        {
            "type": "actions",
            "block_id": f"verify_{inc.id}",
            "elements": [
                _button("Verify services healthy: run /alp health", "incident_run_health", str(inc.id), "primary"),
                _button("Postmortem draft", "incident_postmortem", str(inc.id)),
            ],
        },
    ]


def open_modal(summary: str = "", impact: str = "", channel: str = "") -> Block:
    """The 'open incident' form, optionally pre-filled from a finding."""

    def text_input(block_id: str, label: str, initial: str, multiline: bool = False, optional: bool = False) -> Block:
        element: Block = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
        if initial:
            element["initial_value"] = initial[:3000]
        return {
            "type": "input",
            "block_id": block_id,
            "optional": optional,
            "label": {"type": "plain_text", "text": label},
            "element": element,
        }

    services = ["auth-service", "user-service", "scheduler-service", "ml-service", "postgres", "redis", "kafka"]
    return {
        "type": "modal",
        "callback_id": "incident_open_modal",
        "private_metadata": channel,
        "title": {"type": "plain_text", "text": "Open incident"},
        "submit": {"type": "plain_text", "text": "Open"},
        "blocks": [
            text_input("summary", "Summary", summary),
            text_input("impact", "Impact (services and users affected)", impact, multiline=True, optional=True),
            {
                "type": "input",
                "block_id": "services",
                "optional": True,
                "label": {"type": "plain_text", "text": "Affected services"},
                "element": {
                    "type": "multi_static_select",
                    "action_id": "value",
                    "options": [{"text": {"type": "plain_text", "text": s}, "value": s} for s in services],
                },
            },
            {
                "type": "input",
                "block_id": "priority",
                "label": {"type": "plain_text", "text": "Priority"},
                "element": {
                    "type": "static_select",
                    "action_id": "value",
                    "initial_option": {"text": {"type": "plain_text", "text": "P1: escalate in 30 min"}, "value": "P1"},
                    "options": [
                        {"text": {"type": "plain_text", "text": t}, "value": v}
                        for v, t in (
                            ("P0", "P0: outage, page now"),
                            ("P1", "P1: escalate in 30 min"),
                            ("P2", "P2: escalate in 2 h"),
                        )
                    ],
                },
            },
        ],
    }


def note_modal(incident_id: int) -> Block:
    return {
        "type": "modal",
        "callback_id": "incident_note_modal",
        "private_metadata": str(incident_id),
        "title": {"type": "plain_text", "text": "Add note"},
        "submit": {"type": "plain_text", "text": "Add"},
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            }
        ],
    }
