"""What the leader does when the handoff scheduler wakes it: the user groups follow the schedules
(`GroupSync`; a group edited by hand is put back and the drift posted, once per drift, to the
schedule's channel, else the incident channel), and each real handoff gets its report, in the
schedule's channel and by DM to the incoming and outgoing people, claimed once across replicas
(kind "report"), with the silences active in Alertmanager and the last shift's changes."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.check_context import check_context
from bot.settings import Settings
from commands.backends.alertmanager import Alertmanager
from commands.catalogue import current
from commands.changes import change_lines_between
from commands.registry import NoParams
from commands.report import Severity
from commands.runner import run_check
from escalation.oncall.calendars import Calendars
from escalation.oncall.config import Schedule
from escalation.oncall.directory import CalendarUnavailable
from escalation.oncall.groups import LOOK_BACK, GroupSync, SyncResult, current_shift
from escalation.oncall.handoff_report import Silence, build_report, report_text
from escalation.oncall.scheduler import HandoffScheduler
from escalation.state.audit import changes_since
from escalation.state.db import now

log = logging.getLogger(__name__)


class HandoffWork:
    def __init__(self, settings: Settings, sync: GroupSync, client: AsyncWebClient) -> None:
        self.settings, self.sync, self.client = settings, sync, client

    async def __call__(self) -> None:
        for result in await self.sync.sync_all():
            if result.drifted:
                await self.post_drift(result)
        for s in self.settings.oncall.schedules:
            try:
                await self.report(s)
            except CalendarUnavailable as err:  # its coverage is unknown: nothing true to report yet
                log.warning("handoff report of %s skipped: %s", s.name, err)
            except Exception:
                log.exception("handoff report of %s", s.name)

    async def post_drift(self, result: SyncResult) -> None:
        """A group out of step with its schedule, said where its people look (claimed once upstream)."""
        schedule = self.settings.oncall.get(result.schedule)
        channel = (schedule.channel if schedule else None) or self.settings.escalation.incident_channel
        text = f":warning: *User group of `{result.schedule}` out of step*: {result.text}"
        try:
            await self.client.chat_postMessage(channel=channel.lstrip("#"), text=text)
        except Exception as err:
            log.warning("drift of %s not posted to %s: %s", result.schedule, channel, err)

    async def silences(self) -> list[Silence]:
        """The silences active in Alertmanager now (raises with the reason when it cannot be read)."""
        found = await Alertmanager(self.settings.alertmanager.url, self.settings.timeouts.probe_s).silences()
        out = []
        for x in found:
            words = ", ".join(
                f"{m.get('name')}{'=' if m.get('isEqual', True) else '!'}{'~' if m.get('isRegex') else ''}{m.get('value')}"
                for m in x.get("matchers", [])
            )
            ends = datetime.fromisoformat(str(x.get("endsAt", "")).replace("Z", "+00:00"))
            out.append(Silence(words, ends, str(x.get("createdBy", "")), str(x.get("comment", ""))))
        return out

    async def changes(self, since: datetime, until: datetime) -> list[str]:
        return await change_lines_between(self.settings, since, until, audit_reader=changes_since)

    async def health(self) -> list[str]:
        spec = current().checks.get("health")
        if spec is None:
            return []
        report = await run_check(spec, check_context(self.settings), NoParams())  # as `/alp health`
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
            self.sync.directory,
            self.sync.db,
            schedule,
            since,
            health,
            self.settings.timeouts.probe_s,
            silences=self.silences if self.settings.alertmanager.url else None,
            changes=self.changes,
            last_report=await self.sync.previous(schedule.name, "report", since),
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


async def start_handoffs(handoffs: HandoffScheduler, calendars: Calendars) -> asyncio.Task[None] | None:
    """Alp-bot's start of the on-call side: the imported calendars read on their interval (the task,
    for the caller to cancel), and the handoff scheduler, whose catch-up (a handoff missed while down)
    waits for their first read, at most twice a download's limit: a calendar not read by then is
    skipped with one log line, its report sent at the next wake-up."""
    if not calendars.imported:
        await handoffs.start()
        return None
    task = asyncio.create_task(calendars.run())
    await handoffs.start(calendars.first_read, 2 * calendars.settings.ical_timeout_s)
    return task
