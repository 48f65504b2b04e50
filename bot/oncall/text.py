"""`/alp oncall` and `alp oncall` answered: the words and the `--json` data (Slack-free, shared).

With no schedule configured the answer is the configured rungs, as before schedules existed.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.oncall.command import OncallCommand
from bot.render.incident_text import oncall_text
from bot.settings import Settings
from escalation.oncall.directory import Directory
from escalation.oncall.view import oncall_data, oncall_words, week_data, week_words
from escalation.state.db import now


def ladder_line(settings: Settings) -> str:
    oc = settings.escalation.oncall
    rungs = [
        f"primary: schedule `{oc.primary_schedule}`"
        if settings.oncall.get(oc.primary_schedule)
        else f"primary: {oc.primary}",
        f"secondary: schedule `{oc.secondary_schedule}`"
        if settings.oncall.get(oc.secondary_schedule)
        else f"secondary: {oc.secondary}",
        f"manager: {oc.manager} ({oc.manager_phone}) by the pager",
    ]
    return "Ladder: " + "; ".join(rungs)


async def oncall_answer(
    settings: Settings, directory: Directory, request: OncallCommand, zone: ZoneInfo | None = None
) -> tuple[str, dict[str, Any]]:
    """(mrkdwn words, data). Raises UnknownSchedule for a `--schedule` that is not configured."""
    at = request.at or now()
    if request.sub == "week":
        week = await week_data(directory, at, request.schedule)
        return week_words(week, zone), week
    if not settings.oncall.schedules and request.schedule is None:
        return oncall_text(settings), {"at": at.isoformat(), "schedules": []}
    data = await oncall_data(directory, at, request.schedule)
    return oncall_words(data, zone) + "\n" + ladder_line(settings), data
