"""`/alp incident …` and `/alp oncall` as text: the words both Slack and the terminal answer with.

Slack-free on purpose (an import-linter contract in pyproject.toml): the terminal (`alp incident …`,
`alp oncall`) imports this module, never `bot/slack/` (Bolt handlers) or anything of slack_bolt; the
Slack path of `incident postmortem` passes its file upload in (`upload`, bot/slack/incidents.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from bot.render.escape import clean_line, escape
from bot.settings import Settings
from escalation.ladder.engine import Escalator
from escalation.model import Incident, IncidentStatus, Priority
from escalation.postmortem import postmortem_markdown

PostmortemUpload = Callable[[Escalator, Incident, str], Awaitable[None]]
"""Posts an incident's postmortem as a file in a channel (the Slack path: bot/slack/incidents.py)."""
SHOW_EVENTS = 15


def oncall_text(settings: Settings) -> str:
    """`oncall`: primary, secondary, manager and the ladder's timing (mrkdwn; the terminal strips it)."""
    oc, esc = settings.escalation.oncall, settings.escalation
    return (
        f"*Primary:* {oc.primary}\n*Secondary:* {oc.secondary}\n*Manager:* {oc.manager} ({oc.manager_phone})\n"
        f"Ladder: P0 pages now, P1 after {esc.p1_first_page_s / 60:.0f} min, P2 after "
        f"{esc.p2_first_page_s / 3600:.1f} h without acknowledgement; then every {esc.step_wait_s / 60:.0f} min "
        "to the next step."
    )


def incident_line(inc: Incident) -> str:
    """One incident on one line: ref, priority, status (and who acked), summary, when it opened (UTC)."""
    who = f", acked by <@{inc.acked_by}>" if inc.status is IncidentStatus.ACKNOWLEDGED else ""
    return f"*{inc.ref}* [{inc.priority.value}] {inc.status.value}{who}: {clean_line(inc.summary)} (opened {inc.opened_at:%m-%d %H:%M}Z)"


async def show_text(esc: Escalator, inc: Incident) -> str:
    """`incident show`: the incident's line, impact and services, and its last SHOW_EVENTS timeline events."""
    lines = [
        incident_line(inc),
        f"Impact: {clean_line(inc.impact or '-')}; services: {clean_line(', '.join(inc.services) or '-')}",
    ]
    events = await esc.timeline(inc.id)
    if len(events) > SHOW_EVENTS:
        lines.append(f"… {len(events) - SHOW_EVENTS} earlier events: `/alp incident postmortem {inc.id}` has them all")
    # one line an event: a note's own line breaks cannot pose as further events
    lines += [f"`{e.at:%H:%M:%S}` {clean_line(e.actor)}: {clean_line(e.text)}" for e in events[-SHOW_EVENTS:]]
    return "\n".join(lines)


def open_key(user: str, channel: str, priority: str, summary: str) -> str:
    """The request key of `incident open`: the same person opening the same words in the same
    channel again while that incident is open is a retry (of an answer lost to a failure), not a
    second incident (`Escalator.open_for_key`)."""
    words = " ".join(summary.split()).casefold()
    return "open:" + hashlib.sha256(f"{user}\n{channel}\n{priority}\n{words}".encode()).hexdigest()[:40]


def _who(user: str | None) -> str:
    return f"<@{user}>" if user and user.startswith(("U", "W")) else escape(user or "someone")


async def already(esc: Escalator, incident_id: int) -> str:
    """What is true of an incident a click or command found already moved on (a retry, a double
    click, someone else first), after finishing what it still owes (its checklist, its message)."""
    await esc.settle(incident_id)
    inc = await esc.get(incident_id)
    if inc is None:
        return "No such incident."
    if inc.status is IncidentStatus.RESOLVED:
        checklist = "owed: alp keeps trying to post it" if "checklist" in await esc.owes(inc.id) else "in its thread"
        return (
            f"{inc.ref} is already resolved (by {_who(inc.resolved_by)} at {inc.resolved_at:%H:%M} UTC); "
            f"its recovery checklist is {checklist}."
        )
    if inc.status is IncidentStatus.ACKNOWLEDGED:
        return f"{inc.ref} is already acknowledged (by {_who(inc.acked_by)} at {inc.acked_at:%H:%M} UTC); escalation is stopped."
    return f"{inc.ref} is {inc.status.value}."


async def handle_incident_command(
    esc: Escalator, request: Any, channel: str, user: str, upload: PostmortemUpload | None
) -> str | None:
    """Run `/alp incident <sub>`; returns the private reply (None: the channel message says it).
    `postmortem` goes through `upload` where given, else comes back as Markdown text."""
    sub = request.sub
    if sub == "open":
        key = open_key(user, channel, request.priority, request.text)
        opened, new = await esc.open_for_key(
            key, Priority(request.priority), request.text, request.impact, list(request.services), channel, user
        )
        if not new:
            return (
                f"{opened.ref} is already open for this request (opened by {_who(opened.opened_by)} at "
                f"{opened.opened_at:%H:%M} UTC, now {opened.status.value}): nothing new was opened."
            )
        return None if opened.message_ts else f"Opened {opened.ref}."
    if sub == "list":
        incs = await esc.list_open()
        return "\n".join(incident_line(i) for i in incs) or "No open incidents."
    inc = await esc.get(request.incident) if request.incident else await esc.open_in_channel(channel)
    if inc is None:
        return (
            f"No incident {request.incident}."
            if request.incident
            else "No open incident in this channel: give its number, e.g. `/alp incident ack 12`."
        )
    if sub == "show":
        return await show_text(esc, inc)
    if sub == "ack":
        if await esc.acknowledge(inc.id, user):
            return f"{inc.ref} acknowledged; escalation stopped."
        return await already(esc, inc.id)
    if sub == "resolve":
        return f"{inc.ref} resolved." if await esc.resolve(inc.id, user) else await already(esc, inc.id)
    if sub == "escalate":
        return await esc.escalate_now(inc.id, user)
    if sub == "note":
        if not request.text:
            return "`/alp incident note <text>`: what should the record say?"
        await esc.note(inc.id, user, request.text)
        return f"Noted on {inc.ref}."
    if sub == "postmortem":
        if upload is None:
            return postmortem_markdown(inc, await esc.timeline(inc.id), await esc.recent_changes(inc))
        await upload(esc, inc, channel)
        return None
    return f"unknown incident command {sub}"
