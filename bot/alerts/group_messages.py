"""One Slack message per alert group (Alertmanager's `groupKey`): posted once, then updated in
place as the group changes; an alert-born incident is announced by its group's message, and
re-rendered there when the incident moves. Built before the escalator (it reads incidents from
the state store), so the incident notifier (bot/alerts/notifier.py) and the intake
(bot/alerts/intake.py) both get it at construction. A message someone deleted (chat.update:
`message_not_found`) is posted again, the old and new threads link to each other, and the
incident's announcement (its updates, its pages' thread) moves to the new message."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import AlertMetrics
from bot.render.alert_blocks import group_message
from bot.render.blocks import Block
from bot.render.incident_blocks import incident_blocks
from bot.render.report_blocks import SlackMessage
from bot.render.verdict_blocks import newer_than, superseded_report
from bot.settings import Settings
from bot.slack.client import Pacer, permalink
from bot.slack.shown import Shown
from bot.slack.signing import key_from, sign
from commands.runtime.clock import SYSTEM_CLOCK, Clock
from escalation.model import Incident, TimelineEntry
from escalation.state.alert_groups import AlertGroup, AlertGroups

log = logging.getLogger(__name__)

# While an alert group opens its incident: the group, its fresh report message and when the
# notification arrived, so the incident's announcement *is* the group's message (see announce).
ANNOUNCING: ContextVar[tuple[AlertGroup, SlackMessage | None, float | None] | None] = ContextVar(
    "alp_alert_announcing", default=None
)
METADATA_TYPE = "alp_alert_group"  # a group message's Slack metadata: {"episode": the episode's id}
BUTTON_TTL_S = 7 * 24 * 3600  # alert messages live for days; who may click is checked at click time

IncidentReader = Callable[[int], Awaitable[Incident | None]]
"""An incident by id (`escalation.state.store.Store.get`)."""
AnnouncementMover = Callable[[int, str, str], Awaitable[object]]
"""(incident id, ts, channel): the incident's announcement is now that message (`Store.set_message`)."""
TimelineReader = Callable[[int], Awaitable[list[TimelineEntry]]]
"""An incident's timeline, oldest first (`Store.timeline`): its verdicts for its messages."""


class GroupMessages:
    """The alert groups' messages in Slack, paced per channel by `pacer` (shared with every
    message the bot posts there)."""

    def __init__(
        self,
        settings: Settings,
        client: AsyncWebClient,
        groups: AlertGroups,
        incidents: IncidentReader,
        pacer: Pacer,
        metrics: AlertMetrics,
        move_announcement: AnnouncementMover | None = None,
        timeline: TimelineReader | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """`clock`: the ladder's (commands/runtime/clock.py), for when an incident's next page is due."""
        self.clock = clock
        self.cfg, self.client, self.groups, self.incidents = settings.alertmanager, client, groups, incidents
        self.timeline = timeline
        self.move_announcement = move_announcement
        self.pacer, self.metrics = pacer, metrics
        self.shown = Shown()  # what each message last showed: an update that changes nothing is not sent
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "alp"
        self.key = key_from(secret)
        self.latencies: list[float] = []  # seconds, notification -> findings posted (the benchmark reads them)

    def silence_buttons(self, group: AlertGroup) -> list[tuple[str, str]]:
        if not self.cfg.url:
            return []
        return [
            (f"Silence {h:g}h", sign({"g": group.id, "h": h}, self.key, BUTTON_TTL_S)) for h in self.cfg.silence_hours
        ]

    @staticmethod
    def metadata(group: AlertGroup) -> dict[str, Any]:
        """Slack message metadata naming the episode: how a message whose recording was lost is
        found again in the channel's history (conversations.history, include_all_metadata)."""
        return {"event_type": METADATA_TYPE, "event_payload": {"episode": group.id}}

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        """An alert-born incident is announced by its group's message (posted
        now, with the incident's buttons); None when this incident is not being opened by a group."""
        pending = ANNOUNCING.get()
        if pending is None:  # the leader finishing what a replica that died owed: the group's message
            group = await self.groups.of_incident(inc.id)
            if group is None:
                return None
            await self.post(group, None, None)
            return (group.channel, group.message_ts) if group.message_ts else None
        group, fresh, received = pending
        group.incident_id = inc.id
        await self.post(group, fresh, received, save=False)
        if not group.message_ts:
            return None
        # recorded on the episode at once, before the incident records it: a replica that dies
        # between the two leaves the incident's next attempt to find it on the episode
        await self.groups.set_message(group.id, group.message_ts)
        return group.channel, group.message_ts

    async def posted_for(self, group: AlertGroup, inc: Incident | None) -> str | None:
        """The ts of the group's message in its channel, if a replica posted it and died before
        recording it: the one whose metadata names the episode (`metadata`), or whose blocks name
        `inc` (an announcement posted before messages carried metadata)."""
        opened = min(group.opened_at.timestamp(), inc.opened_at.timestamp() if inc else group.opened_at.timestamp())
        resp = await self.client.conversations_history(
            channel=group.channel, oldest=str(opened - 1), limit=200, include_all_metadata=True
        )
        names = f"Incident: {inc.ref} (" if inc else None
        for m in resp.get("messages") or []:
            meta = m.get("metadata") or {}
            if meta.get("event_type") == METADATA_TYPE and (meta.get("event_payload") or {}).get("episode") == group.id:
                return str(m["ts"])
            if names and names in json.dumps(m.get("blocks") or []):
                return str(m["ts"])
        return None

    async def refresh(self, inc: Incident) -> bool:
        """Re-render the group message that announced `inc` (False: none did)."""
        group = await self.groups.of_incident(inc.id)
        if group is None or not group.message_ts or group.message_ts != inc.message_ts:
            return False
        await self.post(group, None, None, save=False)
        return True

    async def post(
        self, group: AlertGroup, fresh: SlackMessage | None, received: float | None, save: bool = True
    ) -> None:
        blocks = group.route.get("report_blocks")
        rendered = fresh or (SlackMessage("", blocks) if blocks else None)
        inc = await self.incidents(group.incident_id) if group.incident_id else None
        if group.message_ts is None and ANNOUNCING.get() is None:
            await self._owed_message(group, inc, save)
        entries = await self.timeline(inc.id) if inc is not None and self.timeline is not None else []
        if fresh is None and rendered is not None and entries:
            rendered.blocks = self._superseded(group, rendered.blocks, entries)
        ref = f"{inc.ref} ({inc.priority.value}, {inc.status.value})" if inc else None
        if ref and group.previous_incident_id:
            ref += f", after INC-{group.previous_incident_id}"
        msg = group_message(
            group,
            rendered,
            list(group.route.get("notes", [])),
            self.silence_buttons(group),
            ref,
            self.cfg.max_alerts_shown,
            incident_blocks(inc, self.clock.now(), entries)[1][1:] if inc else [],
        )
        try:
            if group.message_ts is None:
                await self.pacer.wait(group.channel)
                resp = await self.client.chat_postMessage(
                    channel=group.channel, text=msg.text, blocks=msg.blocks, metadata=self.metadata(group)
                )
                group.message_ts, group.channel = str(resp["ts"]), str(resp.get("channel", group.channel))
                self.shown.sent(group.channel, group.message_ts, msg.text, msg.blocks)
            elif not self.shown.same(group.channel, group.message_ts, msg.text, msg.blocks):
                await self.pacer.wait(group.channel)
                try:
                    await self.shown.update(self.client, group.channel, group.message_ts, msg.text, msg.blocks)
                except SlackApiError as err:
                    if err.response.get("error") != "message_not_found":
                        raise
                    await self._replace(group, msg.text, msg.blocks)
            if received is not None:
                took = time.monotonic() - received
                self.latencies.append(took)
                self.metrics.latency.observe(took)
            if fresh is not None and msg.attachment:
                target = group.route.get("report_target", "report")
                await self.client.files_upload_v2(
                    channel=group.channel,
                    thread_ts=group.message_ts,
                    content=msg.attachment,
                    filename=f"{target}-report.txt",
                    title=f"{target} report",
                )
        except SlackApiError as err:
            log.error("alert group message in %s failed: %s", group.channel, err.response.get("error"))
        finally:
            if save:
                await self.groups.save(group)

    async def _owed_message(self, group: AlertGroup, inc: Incident | None, save: bool) -> None:
        """The group has no message recorded. Its first post is recorded as owed before it is made
        (`route["message_owed"]`, saved), so an attempt after one whose replica died looks for what
        it posted (`posted_for`) and updates that message instead of posting a second one; so does
        the announcement of its incident. (An announcement the group's channel refused went to
        another channel: it is not this message.)"""
        if inc is not None and inc.message_ts:
            if inc.channel == group.channel:
                group.message_ts = inc.message_ts
            return
        if inc is not None or group.route.get("message_owed"):
            group.message_ts = await self.posted_for(group, inc)
        elif save:
            group.route["message_owed"] = True
            await self.groups.save(group)

    @staticmethod
    def _superseded(group: AlertGroup, blocks: list[Block], entries: list[TimelineEntry]) -> list[Block]:
        """The group's report under a banner once a newer verdict of its check superseded it."""
        target, read = str(group.route.get("report_target", "")), group.route.get("report_read_at")
        if not read:
            return blocks
        read_at = datetime.fromisoformat(str(read))
        newest = newer_than(entries, target, read_at)
        if newest is None:
            return blocks
        return superseded_report(blocks, target, read_at, str(group.route.get("report_severity", "")), newest)

    async def attach_charts(self, group: AlertGroup, charts: list[tuple[bytes, str]]) -> None:
        """The alert expressions' charts (PNG, title) in the group's thread; a chart is extra: a
        failed upload is logged, the message stands."""
        if not group.message_ts:
            return
        for n, (png, title) in enumerate(charts, 1):
            try:
                await self.pacer.wait(group.channel)
                await self.client.files_upload_v2(
                    channel=group.channel,
                    thread_ts=group.message_ts,
                    file=png,
                    filename=f"alert-expression-{n}.png",
                    title=title[:200],
                )
            except (SlackApiError, SlackClientError, OSError) as err:
                log.warning("alert group %s: chart not attached: %s", group.id, err)

    async def _replace(self, group: AlertGroup, text: str, blocks: list[dict[str, Any]]) -> None:
        """The group's message was deleted: post it anew, link the two threads, and move the
        incident's announcement to it."""
        old = group.message_ts or ""
        resp = await self.client.chat_postMessage(
            channel=group.channel, text=text, blocks=blocks, metadata=self.metadata(group)
        )
        group.message_ts, group.channel = str(resp["ts"]), str(resp.get("channel", group.channel))
        self.shown.sent(group.channel, group.message_ts, text, blocks)
        log.warning(
            "alert group message %s in %s was deleted; posted again as %s", old, group.channel, group.message_ts
        )
        if group.incident_id and self.move_announcement is not None:
            await self.move_announcement(group.incident_id, group.message_ts, group.channel)
        new_link = await permalink(self.client, group.channel, group.message_ts)
        old_link = await permalink(self.client, group.channel, old)
        for thread, note in (
            (old, f":arrow_right: This alert group's message was deleted; it continues in {new_link}"),
            (
                group.message_ts,
                f":arrow_left: Posted again after the group's message was deleted; its earlier thread: {old_link}",
            ),
        ):
            try:
                await self.client.chat_postMessage(channel=group.channel, thread_ts=thread, text=note)
            except SlackApiError as err:
                log.warning("linking the alert group's threads: %s", err.response.get("error"))
