"""What the leader does when the handoff scheduler wakes it: the user groups follow the schedules
(`GroupSync`), and each real handoff gets its report, in the schedule's channel and by DM to the
incoming and outgoing people, claimed once across replicas (kind "report")."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall_check import oncall_evidence
from bot.settings import Settings
from commands.catalogue import CHECKS
from commands.registry import CheckContext, NoParams
from commands.report import Severity
from commands.runner import run_check
from escalation.oncall.config import Schedule
from escalation.oncall.groups import LOOK_BACK, GroupSync, current_shift
from escalation.oncall.handoff_report import build_report, report_text
from escalation.state.db import now

log = logging.getLogger(__name__)


class HandoffWork:
    def __init__(self, settings: Settings, sync: GroupSync, client: AsyncWebClient) -> None:
        self.settings, self.sync, self.client = settings, sync, client

    async def __call__(self) -> None:
        await self.sync.sync_all()
        for s in self.settings.oncall.schedules:
            try:
                await self.report(s)
            except Exception:
                log.exception("handoff report of %s", s.name)

    async def health(self) -> list[str]:
        spec = CHECKS.get("health")
        if spec is None:
            return []
        report = await run_check(spec, CheckContext(self.settings, oncall=oncall_evidence), NoParams())
        bad = (Severity.CRITICAL, Severity.UNKNOWN)
        return [f"{f.severity.value.upper()}: {f.title}" for f in report.findings if f.severity in bad][:10]

    async def report(self, schedule: Schedule, at: datetime | None = None) -> str | None:
        """Send the report of the handoff that started the current shift, once; its text, or None."""
        at = at or now()
        since, users = await current_shift(self.sync.directory, schedule, at)
        recent = timedelta(seconds=self.settings.oncall.handoff_report_within_s)
        if since <= at - LOOK_BACK or at - since > recent:
            return None  # no handoff lately (or too long ago to be news)
        if not await self.sync.claim(schedule.name, since, "report", users):
            return None
        health = self.health if self.settings.oncall.handoff_health else None
        report = await build_report(
            self.sync.directory, self.sync.db, schedule, since, health, self.settings.timeouts.probe_s
        )
        text = report_text(report)
        sent: list[str] = []
        targets = ([schedule.channel] if schedule.channel else []) + sorted(set(report.incoming) | set(report.outgoing))
        for target in targets:
            try:
                channel = target
                if target.startswith(("U", "W")):
                    channel = (await self.client.conversations_open(users=target))["channel"]["id"]
                await self.client.chat_postMessage(channel=channel, text=text)
                sent.append(target)
            except Exception as err:
                log.warning("handoff report of %s to %s: %s", schedule.name, target, err)
        await self.sync.done(schedule.name, since, "report", "sent to " + (", ".join(sent) or "nobody"))
        return text
