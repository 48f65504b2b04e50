"""Incidents in Slack: the notifier the escalation engine pages through, the postmortem upload,
and the buttons, checkboxes and forms of incident messages. The words of `/alp incident …` and
`/alp oncall` are in `bot/render/incident_text.py` (Slack-free, shared with the terminal)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.render.blocks import context
from bot.render.escape import clean, escape, keep_mentions
from bot.render.incident_blocks import checklist_blocks, incident_blocks, note_modal, open_modal, page_blocks
from bot.render.incident_text import already
from bot.render.report_blocks import fit
from bot.render.verdict_blocks import marked_by, newer_than, superseded_report
from bot.slack.client import SLACK_ERRORS, open_form, reason
from bot.slack.client import ephemeral as private_reply
from bot.slack.shown import Shown
from commands.masking.redact import redact
from commands.runtime.clock import SYSTEM_CLOCK, Clock
from escalation.ladder.engine import Escalator
from escalation.ladder.pages import Page, taken_at
from escalation.ladder.recovery import judged_items
from escalation.model import Incident, Priority, Rung, TimelineEntry
from escalation.postmortem import postmortem_markdown

log = logging.getLogger(__name__)


UNREACHABLE = {"not_in_channel", "channel_not_found", "is_archived"}  # Slack's answers for a channel alp cannot post in
NOTE_LIMIT = 3000  # characters of a quoted note or error in a thread line; the timeline keeps all


class SlackNotifier:
    """Posts through the Web API: announcement in the channel, pages in its thread, DMs."""

    def __init__(
        self,
        client: AsyncWebClient,
        fallback_channel: str = "",
        timeline: Callable[[int], Awaitable[list[TimelineEntry]]] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        shown: Shown | None = None,
    ) -> None:
        """`timeline`: an incident's timeline (`Store.timeline`), for the verdicts its messages show;
        `clock`: the ladder's (commands/runtime/clock.py), for when the next page is due; `shown`: what each
        message last showed (shared with whatever else updates the same messages)."""
        self.client = client
        self.clock = clock
        self.shown = shown or Shown()
        self.fallback_channel = fallback_channel.lstrip(
            "#"
        )  # where an incident is announced if its own channel refuses
        self.timeline = timeline
        self._superseded: dict[str, str] = {}  # report message ts -> when the verdict its banner names was read

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        """Post the announcement in the incident's channel; where alp cannot post there (not a
        member, no such channel, archived), in the fallback channel with a line saying why, and
        the incident then lives there (its pages and notes follow the announcement)."""
        text, blocks = incident_blocks(inc, self.clock.now())
        try:
            resp = await self.client.chat_postMessage(channel=inc.channel, text=text, blocks=blocks)
        except SlackApiError as err:
            why = reason(err)
            if why not in UNREACHABLE or not self.fallback_channel or self.fallback_channel == inc.channel.lstrip("#"):
                log.error(
                    "lost the announcement of %s in %s (%s): it has no message and no buttons",
                    inc.ref,
                    inc.channel,
                    why,
                )
                raise
            note = context(
                f":warning: opened in <#{escape(inc.channel)}>, where alp cannot post ({escape(why)}): announced here. "
                "Invite alp there with `/invite @alp` to keep incidents in their channel."
            )
            try:
                resp = await self.client.chat_postMessage(
                    channel=self.fallback_channel, text=text, blocks=[*blocks, note]
                )
            except SLACK_ERRORS as again:
                log.error(
                    "lost the announcement of %s: %s in %s, %s in %s",
                    inc.ref,
                    why,
                    inc.channel,
                    reason(again),
                    self.fallback_channel,
                )
                raise
            log.warning("announced %s in %s instead of %s (%s)", inc.ref, self.fallback_channel, inc.channel, why)
            blocks = [*blocks, note]
        self.shown.sent(str(resp["channel"]), str(resp["ts"]), text, blocks)
        return str(resp["channel"]), str(resp["ts"])

    async def find_announcement(self, inc: Incident) -> tuple[str, str] | None:
        """The incident's announcement among the channel's top-level messages since it opened."""
        resp = await self.client.conversations_history(
            channel=inc.channel, oldest=str(inc.opened_at.timestamp() - 1), limit=200
        )
        for m in resp.get("messages") or []:
            if str(m.get("text", "")).startswith(f"{inc.ref} {inc.priority.value} ") and not m.get("thread_ts"):
                return inc.channel, str(m["ts"])
        return None

    async def refresh(self, inc: Incident) -> None:
        """The announcement with the incident's state and verdicts; then the report messages a newer
        verdict superseded (`supersede_reports`)."""
        if inc.message_ts:
            text, blocks = incident_blocks(inc, self.clock.now(), await self._entries(inc))
            await self.shown.update(self.client, inc.channel, inc.message_ts, text, blocks)
        await self.supersede_reports(inc)

    async def _entries(self, inc: Incident) -> list[TimelineEntry]:
        return await self.timeline(inc.id) if self.timeline is not None else []

    async def supersede_reports(self, inc: Incident) -> None:
        """Each report message posted for the incident (a check's verdict that names its message)
        whose check has a newer verdict gets a banner naming it, once per newer verdict; its
        blocks are read back from the channel (conversations.history), the report kept below. The
        banner's block_id names its verdict, so a message already marked by it is left as it is
        (after a restart, or marked by another replica)."""
        entries = await self._entries(inc)
        for e in entries:
            where = e.data.get("message") if e.kind == "check" else None
            if not isinstance(where, dict) or not where.get("ts"):
                continue
            channel, ts, target = str(where.get("channel")), str(where["ts"]), str(e.data.get("target"))
            newest = newer_than(entries, target, taken_at(e))
            if newest is None or self._superseded.get(ts) == newest.data.get("taken_at"):
                continue
            try:
                resp = await self.client.conversations_history(channel=channel, latest=ts, inclusive=True, limit=1)
                found = [m for m in resp.get("messages") or [] if str(m.get("ts")) == ts]
                if not found:
                    continue
                now = found[0].get("blocks") or []
                if not marked_by(now, newest):  # the message says which verdict marked it (a restart, a replica)
                    blocks = superseded_report(now, target, taken_at(e), str(e.data.get("severity")), newest)
                    was = str(found[0].get("text") or target)
                    was = was.partition("): ")[2] if was.startswith("Superseded (") else was
                    text = f"Superseded ({taken_at(newest):%H:%M:%SZ}): {was}"
                    await self.shown.update(self.client, channel, ts, text, blocks)
                self._superseded[ts] = str(newest.data.get("taken_at"))
            except SlackApiError as err:
                log.warning("marking the %s report %s superseded: %s", target, ts, reason(err))

    async def page(self, inc: Incident, step: Rung, page: Page) -> None:
        """DMs first, then the thread post: the thread post is the mark that the page is complete."""
        text, blocks = page_blocks(page)
        for user in step.dm_users:
            dm = await self.client.conversations_open(users=user)
            await self.client.chat_postMessage(channel=dm["channel"]["id"], text=text, blocks=blocks)
        if not inc.message_ts:  # a page that is due waits for its thread only so long (Delivery: `announced`)
            note = (
                f":warning: Posted in the channel, not in {inc.ref}'s thread: its announcement is not posted "
                "yet (alp keeps trying), and a page that is due is not held back longer."
            )
            blocks = [*blocks, context(note)]
        await self.client.chat_postMessage(
            channel=inc.channel, thread_ts=inc.message_ts, text=text, blocks=blocks, reply_broadcast=True
        )

    async def already_paged(self, inc: Incident, step: Rung, page: Page) -> bool:
        """Looked for in the incident's thread, or in the channel if it has no announcement."""
        text, _ = page_blocks(page)
        if inc.message_ts:
            resp = await self.client.conversations_replies(channel=inc.channel, ts=inc.message_ts, limit=200)
        else:
            resp = await self.client.conversations_history(
                channel=inc.channel, oldest=str(inc.opened_at.timestamp()), limit=200
            )
        return any(m.get("text") == text for m in resp.get("messages") or [])

    async def say(self, inc: Incident, text: str, quote: str = "") -> None:
        await self.client.chat_postMessage(
            channel=inc.channel, thread_ts=inc.message_ts, text=self._line(inc, text, quote)
        )

    @staticmethod
    def _line(inc: Incident, text: str, quote: str = "") -> str:
        # The engine's own words keep their mentions; the quoted foreign words are text, masked.
        return keep_mentions(text) + fit(clean(quote), NOTE_LIMIT, f"`/alp incident show {inc.id}`")

    async def already_said(self, inc: Incident, text: str) -> bool:
        if not inc.message_ts:
            return False
        resp = await self.client.conversations_replies(channel=inc.channel, ts=inc.message_ts, limit=200)
        line = self._line(inc, text)
        return any(m.get("text") == line for m in resp.get("messages") or [])

    async def specialists(self, inc: Incident, channels: list[str]) -> None:
        for channel in channels:
            await self.client.chat_postMessage(
                channel=channel.lstrip("#"),
                text=f":sos: {inc.ref} [{inc.priority.value}] {clean(inc.summary)}: your team is needed in <#{inc.channel}>",
            )

    async def checklist(self, inc: Incident) -> None:
        """The checklist, with the items alp judged on resolve (escalation/ladder/recovery.py)."""
        judged, read_at = judged_items(await self.timeline(inc.id)) if self.timeline else ({}, "")
        text, blocks = checklist_blocks(inc, judged, read_at)
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
            await ephemeral(client, body, await already(esc, inc.id))  # a retry: what is true, and what it owed

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
            await ephemeral(client, body, await already(esc, inc.id))  # a retry finishes the checklist

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
        # the form's view id is the request key: Slack's retry of the same submission opens nothing new
        await esc.open_for_key(
            f"open:view:{view.get('id') or uuid.uuid4().hex}",
            Priority(priority),
            summary,
            impact,
            services,
            str(view.get("private_metadata") or ""),
            body["user"]["id"],
        )
