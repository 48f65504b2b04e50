"""`/alp oncall` in Slack: acked at once, answered privately in the asker's time zone (`users.info`
`tz`; UTC, said so, when Slack does not say). The wiring of schedules into the running bot."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall.command import OncallCommand
from bot.oncall.text import oncall_answer
from bot.render.week_chart import week_png
from bot.settings import Settings
from commands.runtime.cpu import in_process, off_loop
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
) -> tuple[str, Callable[[], Awaitable[None]] | None]:
    """The private answer to `/alp oncall …`, and for `week` what follows it: the picture, sent
    to the asker's DM (`week_picture`)."""
    zone, note = await asker_zone(client, user) if settings.oncall.schedules else (ZoneInfo("UTC"), "")
    try:
        text, data = await oncall_answer(settings, directory, request, zone)
    except UnknownSchedule as err:
        return str(err), None
    then = functools.partial(week_picture, client, user, data, zone.key) if request.sub == "week" else None
    return (f"{text}\n{note}" if note else text), then


async def week_picture(client: AsyncWebClient, user: str, data: dict[str, Any], zone: str) -> None:
    """`oncall week`'s picture (bot/render/week_chart.py), drawn in a worker process as every chart
    is, uploaded to the asker's DM (the answer is private). A picture is extra: a failure is logged."""
    png = await off_loop(in_process, week_png, data, zone)
    if png is None:
        return
    try:
        dm = (await client.conversations_open(users=user))["channel"]["id"]
        await client.files_upload_v2(channel=dm, file=png, filename="oncall-week.png", title="On call, the week")
    except Exception as err:
        log.warning("the week's picture was not sent to %s: %s", user, err)
