"""Incidents in Slack: the notifier the escalation engine pages through, `/alp incident …`,
`/alp oncall`, and the buttons, checkboxes and forms of incident messages."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.render_incident import checklist_blocks, incident_blocks, note_modal, open_modal, page_blocks
from bot.settings import Settings
from escalation.engine import Escalator
from escalation.model import Incident, Priority, Status, Step
from escalation.pages import Page
from escalation.postmortem import postmortem_markdown

log = logging.getLogger(__name__)


class SlackNotifier:
    """Posts through the Web API: announcement in the channel, pages in its thread, DMs."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        text, blocks = incident_blocks(inc)
        resp = await self.client.chat_postMessage(channel=inc.channel, text=text, blocks=blocks)
        return str(resp["channel"]), str(resp["ts"])

    async def refresh(self, inc: Incident) -> None:
        if inc.message_ts:
            text, blocks = incident_blocks(inc)
            await self.client.chat_update(channel=inc.channel, ts=inc.message_ts, text=text, blocks=blocks)

    async def page(self, inc: Incident, step: Step, page: Page) -> None:
        """DMs first, then the thread post: the thread post is the mark that the page is complete."""
        text, blocks = page_blocks(page)
        for user in step.dm_users:
            dm = await self.client.conversations_open(users=user)
            await self.client.chat_postMessage(channel=dm["channel"]["id"], text=text, blocks=blocks)
        await self.client.chat_postMessage(
            channel=inc.channel, thread_ts=inc.message_ts, text=text, blocks=blocks, reply_broadcast=True
        )

    async def already_paged(self, inc: Incident, step: Step, page: Page) -> bool:
        """Looked for in the incident's thread, or in the channel if it has no announcement."""
        text, _ = page_blocks(page)
        if inc.message_ts:
            resp = await self.client.conversations_replies(channel=inc.channel, ts=inc.message_ts, limit=200)
        else:
            resp = await self.client.conversations_history(
                channel=inc.channel, oldest=str(inc.opened_at.timestamp()), limit=200
            )
        return any(m.get("text") == text for m in resp.get("messages") or [])

    async def say(self, inc: Incident, text: str) -> None:
        await self.client.chat_postMessage(channel=inc.channel, thread_ts=inc.message_ts, text=text)

    async def specialists(self, inc: Incident, channels: list[str]) -> None:
        for channel in channels:
            await self.client.chat_postMessage(
                channel=channel.lstrip("#"),
                text=f":sos: {inc.ref} [{inc.priority.value}] {inc.summary}: your team is needed in <#{inc.channel}>",
            )

    async def checklist(self, inc: Incident) -> None:
        text, blocks = checklist_blocks(inc)
        await self.client.chat_postMessage(channel=inc.channel, thread_ts=inc.message_ts, text=text, blocks=blocks)


def oncall_text(settings: Settings) -> str:
    oc, esc = settings.escalation.oncall, settings.escalation
    return (
        f"*Primary:* {oc.primary}\n*Secondary:* {oc.secondary}\n*Manager:* {oc.manager} ({oc.manager_phone})\n"
        f"Ladder: P0 pages now, P1 after {esc.p1_first_page_s / 60:.0f} min, P2 after "
        f"{esc.p2_first_page_s / 3600:.1f} h without acknowledgement; then every {esc.step_wait_s / 60:.0f} min "
        "to the next step."
    )


def incident_line(inc: Incident) -> str:
    who = f", acked by <@{inc.acked_by}>" if inc.status is Status.ACKNOWLEDGED else ""
    return f"*{inc.ref}* [{inc.priority.value}] {inc.status.value}{who}: {inc.summary} (opened {inc.opened_at:%m-%d %H:%M}Z)"


def show_text(esc: Escalator, inc: Incident) -> str:
    lines = [incident_line(inc), f"Impact: {inc.impact or '-'}; services: {', '.join(inc.services) or '-'}"]
    lines += [f"`{e.at:%H:%M:%S}` {e.actor}: {e.text}" for e in esc.timeline(inc.id)[-15:]]
    return "\n".join(lines)


async def handle_incident_command(
    esc: Escalator, request: Any, channel: str, user: str, client: AsyncWebClient | None
) -> str | None:
    """Run `/alp incident <sub>`; returns the private reply (None: the channel message says it)."""
    sub = request.sub
    if sub == "open":
        opened = await esc.open(
            Priority(request.priority), request.text, request.impact, list(request.services), channel, user
        )
        return None if opened.message_ts else f"Opened {opened.ref}."
    if sub == "list":
        incs = esc.list_open()
        return "\n".join(incident_line(i) for i in incs) or "No open incidents."
    inc = esc.get(request.incident) if request.incident else esc.open_in_channel(channel)
    if inc is None:
        return (
            f"No incident {request.incident}."
            if request.incident
            else "No open incident in this channel: give its number, e.g. `/alp incident ack 12`."
        )
    if sub == "show":
        return show_text(esc, inc)
    if sub == "ack":
        return (
            f"{inc.ref} acknowledged; escalation stopped."
            if await esc.acknowledge(inc.id, user)
            else f"{inc.ref} is {inc.status.value}: nothing to acknowledge."
        )
    if sub == "resolve":
        return f"{inc.ref} resolved." if await esc.resolve(inc.id, user) else f"{inc.ref} was already resolved."
    if sub == "escalate":
        return await esc.escalate_now(inc.id, user)
    if sub == "note":
        if not request.text:
            return "`/alp incident note <text>`: what should the record say?"
        await esc.note(inc.id, user, request.text)
        return f"Noted on {inc.ref}."
    if sub == "postmortem":
        if client is None:
            return postmortem_markdown(inc, esc.timeline(inc.id), await esc.recent_changes(inc))
        await upload_postmortem(esc, inc, channel, client)
        return None
    return f"unknown incident command {sub}"


async def upload_postmortem(esc: Escalator, inc: Incident, channel: str, client: AsyncWebClient) -> None:
    md = postmortem_markdown(inc, esc.timeline(inc.id), await esc.recent_changes(inc))
    await client.files_upload_v2(
        channel=channel,
        thread_ts=inc.message_ts if inc.channel == channel else None,
        content=md,
        filename=f"postmortem-{inc.ref}.md",
        title=f"Postmortem draft {inc.ref}",
    )


def register_incident_handlers(app: AsyncApp, esc: Escalator, run_health: Any) -> None:
    """Buttons, checkboxes and forms of incident messages."""

    def incident_of(body: dict[str, Any]) -> Incident | None:
        return esc.get(int(str(body["actions"][0]["value"]).split(":")[0]))

    async def ephemeral(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
        channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id")
        await client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)

    @app.action("incident_ack")
    async def ack(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        inc = incident_of(body)
        if inc and not await esc.acknowledge(inc.id, body["user"]["id"]):
            await ephemeral(client, body, f"{inc.ref} is already {esc.get(inc.id).status.value}.")  # type: ignore[union-attr]

    @app.action("incident_escalate")
    async def escalate(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = str(body["actions"][0]["value"])  # "id:step": the step shown when the user clicked
        incident_id, _, shown = value.partition(":")
        from_step = int(shown) if shown.isdigit() else None
        await ephemeral(client, body, await esc.escalate_now(int(incident_id), body["user"]["id"], from_step))

    @app.action("incident_resolve")
    async def resolve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        inc = incident_of(body)
        if inc and not await esc.resolve(inc.id, body["user"]["id"]):
            await ephemeral(client, body, f"{inc.ref} was already resolved.")

    @app.action("incident_note")
    async def note(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=note_modal(int(body["actions"][0]["value"])))

    @app.view("incident_note_modal")
    async def note_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        text = view["state"]["values"]["note"]["value"]["value"] or ""
        await esc.note(int(view["private_metadata"]), body["user"]["id"], text)

    @app.action("incident_checklist")
    async def tick(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        incident_id = int(body["actions"][0]["block_id"].split("_", 1)[1])
        inc = esc.get(incident_id)
        if inc is None:
            return
        selected = {o["value"] for o in body["actions"][0].get("selected_options", [])}
        for item, done in inc.checklist.items():
            if (item in selected) != done:
                esc.tick(incident_id, item, item in selected, body["user"]["id"])

    @app.action("incident_run_health")
    async def health(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        await run_health(body, client, respond, int(body["actions"][0]["value"]))

    @app.action("incident_postmortem")
    async def postmortem(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        inc = incident_of(body)
        if inc:
            await upload_postmortem(esc, inc, inc.channel, client)

    @app.action("incident_open_from_finding")
    async def open_from_finding(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        seed = json.loads(body["actions"][0]["value"])
        channel = body.get("channel", {}).get("id", "")
        await client.views_open(
            trigger_id=body["trigger_id"], view=open_modal(seed.get("summary", ""), seed.get("impact", ""), channel)
        )

    @app.view("incident_open_modal")
    async def open_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view["state"]["values"]
        summary = (values["summary"]["value"]["value"] or "").strip()
        if not summary:
            await ack(response_action="errors", errors={"summary": "Say what is wrong"})
            return
        await ack()
        priority = values["priority"]["value"]["selected_option"]["value"]
        services = [o["value"] for o in values["services"]["value"].get("selected_options") or []]
        impact = values["impact"]["value"]["value"] or ""
        await esc.open(
            Priority(priority), summary, impact, services, view["private_metadata"] or "", body["user"]["id"]
        )
