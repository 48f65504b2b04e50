"""Incidents in Slack: the notifier the escalation engine pages through, the postmortem upload,
and the buttons, checkboxes and forms of incident messages. The words of `/alp incident …` and
`/alp oncall` are in `bot/render/incident_text.py` (Slack-free, shared with the terminal)."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.escape import clean, keep_mentions
from bot.render.incident_blocks import checklist_blocks, incident_blocks, note_modal, open_modal, page_blocks
from bot.slack.client import SLACK_ERRORS, open_form, reason
from bot.slack.client import ephemeral as private_reply
from commands.redact import redact
from escalation.ladder.engine import Escalator
from escalation.ladder.pages import Page
from escalation.model import Incident, Priority, Step
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
        # The engine's own lines: its mentions stay live, anything else (a pager's error) is text.
        await self.client.chat_postMessage(channel=inc.channel, thread_ts=inc.message_ts, text=keep_mentions(text))

    async def specialists(self, inc: Incident, channels: list[str]) -> None:
        for channel in channels:
            await self.client.chat_postMessage(
                channel=channel.lstrip("#"),
                text=f":sos: {inc.ref} [{inc.priority.value}] {clean(inc.summary)}: your team is needed in <#{inc.channel}>",
            )

    async def checklist(self, inc: Incident) -> None:
        text, blocks = checklist_blocks(inc)
        await self.client.chat_postMessage(channel=inc.channel, thread_ts=inc.message_ts, text=text, blocks=blocks)


async def upload_postmortem(esc: Escalator, inc: Incident, channel: str, client: AsyncWebClient) -> None:
    md = redact(postmortem_markdown(inc, await esc.timeline(inc.id), await esc.recent_changes(inc)))
    try:
        await client.files_upload_v2(
            channel=channel,
            thread_ts=inc.message_ts if inc.channel == channel else None,
            content=md,
            filename=f"postmortem-{inc.ref}.md",
            title=f"Postmortem draft {inc.ref}",
        )
    except SLACK_ERRORS as err:
        log.error("lost the postmortem draft of %s to %s: %s", inc.ref, channel, reason(err))


def form_value(view: dict[str, Any], block: str, key: str = "value") -> Any:
    """`view.state.values[block].value[key]`, or None where the form does not have it."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    entry = values.get(block) if isinstance(values, dict) else None
    element = entry.get("value") if isinstance(entry, dict) else None
    return element.get(key) if isinstance(element, dict) else None


def register_incident_handlers(app: AsyncApp, esc: Escalator, run_health: Any, services: list[str]) -> None:
    """Buttons, checkboxes and forms of incident messages; `services`: what the open form offers."""

    def number(value: object) -> int | None:
        """An incident id from a button or form: ASCII digits within SQLite's INTEGER, else None."""
        text = str(value or "")
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None

    async def incident_of(body: dict[str, Any]) -> Incident | None:
        incident_id = number(str(body["actions"][0].get("value") or "").split(":")[0])
        return await esc.get(incident_id) if incident_id is not None else None

    async def ephemeral(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
        channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id") or ""
        await private_reply(client, channel, body["user"]["id"], text)

    @app.action("incident_ack")
    async def ack(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        inc = await incident_of(body)
        if inc and not await esc.acknowledge(inc.id, body["user"]["id"]):
            await ephemeral(client, body, f"{inc.ref} is already {(await esc.get(inc.id)).status.value}.")  # type: ignore[union-attr]

    @app.action("incident_escalate")
    async def escalate(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        value = str(body["actions"][0].get("value") or "")  # "id:step": the step shown when the user clicked
        raw_id, _, shown = value.partition(":")
        incident_id, from_step = number(raw_id), number(shown)
        if incident_id is None:
            await ephemeral(client, body, "That button names no incident: run `/alp incident list`.")
            return
        await ephemeral(client, body, await esc.escalate_now(incident_id, body["user"]["id"], from_step))

    @app.action("incident_resolve")
    async def resolve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        inc = await incident_of(body)
        if inc and not await esc.resolve(inc.id, body["user"]["id"]):
            await ephemeral(client, body, f"{inc.ref} was already resolved.")

    @app.action("incident_note")
    async def note(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        incident_id = number(body["actions"][0].get("value"))
        if incident_id is not None:
            await open_form(client, body.get("trigger_id"), note_modal(incident_id), "note")

    @app.view("incident_note_modal")
    async def note_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        await ack()
        text = str(form_value(view, "note") or "")
        incident_id = number(view.get("private_metadata"))
        if incident_id is not None and await esc.get(incident_id) is not None:
            await esc.note(incident_id, body["user"]["id"], text)

    @app.action("incident_checklist")
    async def tick(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        incident_id = number(str(body["actions"][0].get("block_id", "")).partition("_")[2])
        inc = await esc.get(incident_id) if incident_id is not None else None
        if inc is None or incident_id is None:
            return
        selected = {o["value"] for o in body["actions"][0].get("selected_options", [])}
        for item, done in inc.checklist.items():
            if (item in selected) != done:
                await esc.tick(incident_id, item, item in selected, body["user"]["id"])

    @app.action("incident_run_health")
    async def health(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        incident_id = number(body["actions"][0].get("value"))
        if incident_id is not None:
            await run_health(body, client, respond, incident_id)

    @app.action("incident_postmortem")
    async def postmortem(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        inc = await incident_of(body)
        if inc:
            await upload_postmortem(esc, inc, inc.channel, client)

    @app.action("incident_open_from_finding")
    async def open_from_finding(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            seed = json.loads(str(body["actions"][0].get("value") or "{}"))
        except ValueError:
            seed = {}
        seed = seed if isinstance(seed, dict) else {}
        channel = body.get("channel", {}).get("id", "")
        view = open_modal(
            redact(str(seed.get("summary", ""))), redact(str(seed.get("impact", ""))), channel, services=services
        )
        await open_form(client, body.get("trigger_id"), view, "incident")

    @app.view("incident_open_modal")
    async def open_submitted(ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        summary = str(form_value(view, "summary") or "").strip()
        if not summary:
            await ack(response_action="errors", errors={"summary": "Say what is wrong"})
            return
        option = form_value(view, "priority", "selected_option")
        priority = option.get("value") if isinstance(option, dict) else None
        if priority not in ("P0", "P1", "P2"):
            await ack(response_action="errors", errors={"priority": "Choose P0, P1 or P2"})
            return
        await ack()
        chosen = form_value(view, "services", "selected_options")
        services = [str(o.get("value")) for o in chosen if isinstance(o, dict)] if isinstance(chosen, list) else []
        impact = str(form_value(view, "impact") or "")
        await esc.open(
            Priority(priority), summary, impact, services, str(view.get("private_metadata") or ""), body["user"]["id"]
        )
