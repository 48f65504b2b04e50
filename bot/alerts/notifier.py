"""The notifier of every incident in the bot: the Slack notifier (bot/slack/incidents.py), plus
what alert-born incidents need: announced by their alert group's message (the intake's), the
channel's pace shared with the alert messages, "Clear any alerts" under the recovery checklist."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.group_messages import BUTTON_TTL_S, GroupMessages, TimelineReader
from bot.render.alert_blocks import clear_alerts_blocks
from bot.settings import Settings
from bot.slack.incidents import SlackNotifier
from bot.slack.signing import key_from, sign
from commands.backends.alertmanager import Alertmanager, AlertmanagerError
from commands.graph.recovery import not_judged, recovery_report
from commands.report import Report
from escalation.ladder.recovery import JudgeRecovery
from escalation.model import Incident
from escalation.state.alert_groups import AlertGroups


class AlertNotifier(SlackNotifier):
    """The Slack notifier, plus "Clear any alerts" under the checklist of an alert-born incident."""

    def __init__(
        self,
        client: AsyncWebClient,
        settings: Settings,
        groups: AlertGroups,
        messages: GroupMessages,
        timeline: TimelineReader | None = None,
    ) -> None:
        super().__init__(client, settings.escalation.incident_channel, timeline, messages.clock, messages.shown)
        self.groups = groups
        self.am = Alertmanager(settings.alertmanager.url, settings.timeouts.probe_s)
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "alp"
        self.key = key_from(secret)
        self.messages = messages  # the alert groups' messages (one announces each alert-born incident)
        self.pacer = messages.pacer  # one pace per channel for every message the bot posts there

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        """An incident opened by an alert group is announced by the group's own message."""
        where = await self.messages.announce(inc)
        if where:
            return where
        await self.pacer.wait(inc.channel.lstrip("#"))  # alert storms open incidents by the dozen
        return await super().announce(inc)

    async def find_announcement(self, inc: Incident) -> tuple[str, str] | None:
        """An alert-born incident is announced by its group's message: recorded on the group, or
        posted by a replica that died before recording it (found by the incident it names)."""
        group = await self.groups.of_incident(inc.id)
        if group is None:
            return await super().find_announcement(inc)
        if not group.message_ts:
            found = await self.messages.posted_for(group, inc)
            if found is None:
                return None
            group.message_ts = found
            await self.groups.set_message(group.id, found)
        return group.channel, str(group.message_ts)

    async def refresh(self, inc: Incident) -> None:
        if not await self.messages.refresh(inc):
            await super().refresh(inc)
        else:
            await self.supersede_reports(inc)

    async def checklist(self, inc: Incident) -> None:
        await super().checklist(inc)
        group = await self.groups.of_incident(inc.id)
        if group is None:
            return
        text, blocks = await clear_alerts(self.am, group.common_labels, group.silences, inc.ref, self.key, inc.id)
        await self.client.chat_postMessage(channel=inc.channel, thread_ts=inc.message_ts, text=text, blocks=blocks)


async def clear_alerts(
    am: Alertmanager, labels: dict[str, str], silence_ids: list[str], ref: str, key: bytes, incident_id: int
) -> tuple[str, list[dict[str, Any]]]:
    firing: list[dict[str, Any]] | None = None
    why = ""
    silences: list[dict[str, Any]] = []
    try:
        firing = await am.firing(labels) if labels else []
        silences = [await am.silence(sid) for sid in silence_ids]
    except AlertmanagerError as err:
        why = str(err)
    token = sign({"i": incident_id}, key, BUTTON_TTL_S)
    return clear_alerts_blocks(ref, firing, silences, token, why)


def recovery_judge(settings: Settings, groups: AlertGroups) -> JudgeRecovery:
    """The engine's `judge_recovery` (escalation/ladder/recovery.py): an alert-born incident's
    "Check monitoring dashboards" and "Clear any alerts" judged from its alerts
    (commands/graph/recovery.py) within `page_recheck_s` (when above 0); None for other incidents."""
    am = Alertmanager(settings.alertmanager.url, settings.timeouts.probe_s)
    bound = settings.escalation.page_recheck_s

    async def judge(inc: Incident) -> Report | None:
        group = await groups.of_incident(inc.id)
        if group is None:
            return None
        alerts = [{**a, "fingerprint": fp} for fp, a in group.alerts.items()]
        try:
            return await asyncio.wait_for(
                recovery_report(settings.prometheus, am, alerts, group.common_labels), bound if bound > 0 else None
            )
        except TimeoutError:
            return not_judged(f"not judged within {bound:g}s (ALP_ESCALATION__PAGE_RECHECK_S)")

    return judge
