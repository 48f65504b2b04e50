"""An alert group's Slack message: posted once, updated in place, replaced when deleted.

The message of an episode (`escalation.state.alert_groups`) shows its alerts, route, the routed
check's report and, for an alert-born incident, the incident's status and buttons: it *is* the
incident's announcement. Posting is paced per channel. A message someone deleted (chat.update:
`message_not_found`) is posted again, the old and new threads link to each other, and the
incident's announcement moves to the new message.
"""

from __future__ import annotations

import logging
import time
from contextvars import ContextVar
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import AlertMetrics
from bot.render.alert_blocks import group_message
from bot.render.incident_blocks import incident_blocks
from bot.render.report_blocks import SlackMessage, render_report
from bot.slack.client import Pacer, permalink
from bot.slack.signing import sign
from commands.alerts import AlertmanagerSettings
from commands.report import Report
from escalation.ladder.engine import Escalator
from escalation.model import Incident
from escalation.state.alert_groups import AlertGroup, AlertGroups

log = logging.getLogger(__name__)

# While an alert group opens its incident: the group, its fresh report message and when the
# notification arrived, so the incident's announcement *is* the group's message (see announce).
ANNOUNCING: ContextVar[tuple[AlertGroup, SlackMessage | None, float | None] | None] = ContextVar(
    "alp_alert_announcing", default=None
)
BUTTON_TTL_S = 7 * 24 * 3600  # alert messages live for days; who may click is checked at click time


class GroupMessages:
    """The Slack side of `bot.alerts.intake.AlertIntake` (which sets these attributes)."""

    cfg: AlertmanagerSettings
    client: AsyncWebClient
    escalator: Escalator
    groups: AlertGroups
    key: bytes
    button: Any
    pacer: Pacer
    metrics: AlertMetrics
    latencies: list[float]

    def silence_buttons(self, group: AlertGroup) -> list[tuple[str, str]]:
        if not self.cfg.url:
            return []
        return [
            (f"Silence {h:g}h", sign({"g": group.id, "h": h}, self.key, BUTTON_TTL_S)) for h in self.cfg.silence_hours
        ]

    def _render_report(self, group: AlertGroup, report: Report | None) -> SlackMessage | None:
        """The check's report as blocks, kept on the episode so later updates still show it."""
        if report is None:
            return None
        rendered = render_report(report, self.button)
        if group.route.get("priority"):  # the group opens its own incident: no "Open incident" button
            rendered.blocks = [b for b in rendered.blocks if b.get("block_id") != "incident_from_report"]
        group.route["report_blocks"] = rendered.blocks
        group.route["report_target"] = report.target
        return rendered

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        """For the notifier: an alert-born incident is announced by its group's message (posted
        now, with the incident's buttons); None when this incident is not being opened by a group."""
        pending = ANNOUNCING.get()
        if pending is None:
            return None
        group, fresh, received = pending
        group.incident_id = inc.id
        await self._post(group, fresh, received, save=False)
        return (group.channel, group.message_ts) if group.message_ts else None

    async def refresh(self, inc: Incident) -> bool:
        """For the notifier: re-render the group message that announced `inc` (False: none did)."""
        group = await self.groups.of_incident(inc.id)
        if group is None or not group.message_ts or group.message_ts != inc.message_ts:
            return False
        await self._post(group, None, None, save=False)
        return True

    async def _post(
        self, group: AlertGroup, fresh: SlackMessage | None, received: float | None, save: bool = True
    ) -> None:
        blocks = group.route.get("report_blocks")
        rendered = fresh or (SlackMessage("", blocks) if blocks else None)
        inc = await self.escalator.get(group.incident_id) if group.incident_id else None
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
            incident_blocks(inc)[1][1:] if inc else [],
        )
        try:
            await self.pacer.wait(group.channel)
            if group.message_ts is None:
                resp = await self.client.chat_postMessage(channel=group.channel, text=msg.text, blocks=msg.blocks)
                group.message_ts, group.channel = str(resp["ts"]), str(resp.get("channel", group.channel))
            else:
                try:
                    await self.client.chat_update(
                        channel=group.channel, ts=group.message_ts, text=msg.text, blocks=msg.blocks
                    )
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

    async def _replace(self, group: AlertGroup, text: str, blocks: list[dict[str, Any]]) -> None:
        """The group's message was deleted (chat.update: message_not_found): post it anew, link the
        two threads, and move the incident's announcement (its updates, its pages' thread) to it."""
        old = group.message_ts or ""
        resp = await self.client.chat_postMessage(channel=group.channel, text=text, blocks=blocks)
        group.message_ts, group.channel = str(resp["ts"]), str(resp.get("channel", group.channel))
        log.warning(
            "alert group message %s in %s was deleted; posted again as %s", old, group.channel, group.message_ts
        )
        if group.incident_id:
            await self.escalator.moved_announcement(group.incident_id, group.channel, group.message_ts)
        new_link, old_link = (
            await permalink(self.client, group.channel, group.message_ts),
            await permalink(self.client, group.channel, old),
        )
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
