"""`oncall override|take|undo` turned into an `OverrideAsk` and answered (Slack-free; shared by the
terminal and the Slack handlers in `bot.oncall.slack`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from bot.oncall.command import OncallCommand
from bot.settings import Settings
from commands.params import UsageError
from escalation.oncall.directory import Directory, UnknownSchedule
from escalation.oncall.override_flow import OverrideAsk, span_ended
from escalation.state.db import now

TAKE_DEFAULT = timedelta(hours=1)


async def ask_of(
    request: OncallCommand,
    settings: Settings,
    directory: Directory,
    asker: str,
    handle: Callable[[str], Awaitable[str | None]] | None = None,
) -> OverrideAsk:
    """The override a request asks for. UsageError for an unknown schedule or a span that is over (a start in the past is
    clipped to now by `override_flow.preview`).
    `take` without a span covers until the current shift ends (at most a day; 1 h in a gap)."""
    name = request.schedule or settings.escalation.oncall.primary_schedule
    try:
        directory.schedule(name)
    except UnknownSchedule as err:
        raise UsageError(str(err)) from None
    start = request.start or now()
    if request.until is not None:
        end = request.until
    elif request.duration is not None:
        end = start + request.duration
    else:
        who, _ = await directory.now(name, start)
        end = min(who.until, start + timedelta(days=1)) if who.until and who.on_call else start + TAKE_DEFAULT
    if end <= now():
        raise UsageError(span_ended(end))
    user = request.user if request.sub == "override" else "" if request.sub == "swap" else asker  # swap: who takes it
    assert user is not None
    if user.startswith("@"):
        found = await handle(user[1:]) if handle is not None else None
        if found is None:
            raise UsageError(f"no Slack user `{user}` (give a user id like U012AB3CD, or an @mention Slack knows)")
        user = found
    return OverrideAsk(name, user, start, end, asker, request.reason)
