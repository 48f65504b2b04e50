"""`/alp oncall` in Slack: acked at once, answered privately in the asker's time zone (`users.info`
`tz`; UTC, said so, when Slack does not say). The wiring of schedules into the running bot."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall_request import OncallCommand
from bot.oncall_text import oncall_answer
from bot.settings import Settings
from escalation.oncall.calendars import Calendars
from escalation.oncall.directory import Directory, UnknownSchedule
from escalation.oncall.overrides import OverrideStore
from escalation.state.db import Database

log = logging.getLogger(__name__)


def directory_of(settings: Settings, db: Database, calendars: Calendars | None = None) -> Directory:
    """The schedules of `settings` with their overrides in the state store `db` and their imported
    calendars (`calendars`, refreshed by the caller)."""
    return Directory(
        settings.oncall,
        OverrideStore(db, settings.timeouts.probe_s),
        calendars.shifts if calendars else None,
        cover=calendars.cover if calendars else None,
    )


async def asker_zone(client: AsyncWebClient, user: str) -> tuple[ZoneInfo, str]:
    """The user's zone from `users.info`, or UTC and a note saying why."""
    try:
        resp = await client.users_info(user=user)
        tz = (resp.get("user") or {}).get("tz")
        return ZoneInfo(str(tz)), ""
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return ZoneInfo("UTC"), "(times in UTC: Slack gave no usable time zone for you)"
    except Exception as err:
        log.warning("users.info for %s: %s", user, err)
        return ZoneInfo("UTC"), "(times in UTC: your time zone could not be read from Slack)"


async def oncall_reply(
    settings: Settings, directory: Directory, request: OncallCommand, client: AsyncWebClient, user: str
) -> str:
    """The private answer to `/alp oncall …`."""
    zone, note = await asker_zone(client, user) if settings.oncall.schedules else (ZoneInfo("UTC"), "")
    try:
        text, _ = await oncall_answer(settings, directory, request, zone)
    except UnknownSchedule as err:
        return str(err)
    return f"{text}\n{note}" if note else text
