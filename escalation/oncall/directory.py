"""Who is on call, from the configured schedules, the overrides in the state store and the imported
calendars: the one place the ladder, `oncall`, the feed and the checks ask.

The computation itself (`escalation.oncall.shifts`) is pure; here it runs off the event loop
(`asyncio.to_thread`) on what was read. An override store that cannot be read does not stop a
page: the answer is then the layers' alone, and `note` says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from escalation.oncall.config import OncallSettings, Schedule
from escalation.oncall.overrides import OverrideStore
from escalation.oncall.rotation import Shift
from escalation.oncall.shifts import OnCallNow, Override, horizon, on_call_at, schedule_shifts

log = logging.getLogger(__name__)


class UnknownSchedule(LookupError):
    """No schedule of that name; `str()` names the configured ones."""


class CalendarUnavailable(RuntimeError):
    """An imported calendar has not been read (yet, or its last read failed): its coverage is unknown."""


@dataclass(frozen=True)
class Reading:
    """What a question about a schedule rests on: the overrides read (or why they could not be)."""

    overrides: tuple[Override, ...]
    note: str = ""  # e.g. "overrides could not be read (…): the layers alone"


def unread_note(reason: str) -> str:
    """`Reading.note` when the overrides could not be read (the one wording)."""
    return f"overrides could not be read ({reason}); this rests on the rotations alone"


class Directory:
    """The schedules of `settings`, their overrides (`store`, optional) and imported calendars
    (`calendars(name, start, end)`: the calendar's shifts, or CalendarUnavailable; `cover(start, end,
    name)`: read them for that window first). `unread`: why the state store could not even be opened
    (every reading then says the overrides were not read)."""

    def __init__(
        self,
        settings: OncallSettings,
        store: OverrideStore | None = None,
        calendars: Callable[[Schedule, datetime, datetime], Sequence[Shift]] | None = None,
        unread: str | None = None,
        cover: Callable[[datetime, datetime, str | None], Awaitable[None]] | None = None,
    ) -> None:
        self.settings, self.store, self.calendars, self.unread = settings, store, calendars, unread
        self.cover = cover

    def schedule(self, name: str) -> Schedule:
        found = self.settings.get(name)
        if found is None:
            names = ", ".join(s.name for s in self.settings.schedules) or "none configured"
            raise UnknownSchedule(f"no on-call schedule `{name}` (schedules: {names})")
        return found

    async def read(self, start: datetime, end: datetime, schedule: str | None = None) -> Reading:
        """The overrides over [start, end); none, with `note` saying why, if they could not be read.
        Every reading starts here, so the imported calendars are made to cover [start, end) first
        (`cover`: `Calendars.cover`)."""
        if self.cover is not None:
            await self.cover(start, end, schedule)
        if self.unread is not None:
            return Reading((), unread_note(self.unread))
        if self.store is None:
            return Reading(())
        try:
            return Reading(tuple(await self.store.overlapping(start, end, schedule)))
        except Exception as err:  # a page must still go out: the layers alone, said so
            log.warning("on-call overrides could not be read: %s", err)
            return Reading((), unread_note(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__))

    def _imported(self, schedule: Schedule, start: datetime, end: datetime) -> Sequence[Shift] | None:
        if schedule.layers:
            return None
        if self.calendars is None:
            raise CalendarUnavailable(f"schedule `{schedule.name}`: its calendar has not been read")
        return self.calendars(schedule, start, end)

    async def now(self, name: str, at: datetime) -> tuple[OnCallNow, Reading]:
        """Who is on call on schedule `name` at `at`, until when, and next. Raises UnknownSchedule,
        CalendarUnavailable."""
        schedule = self.schedule(name)
        reading = await self.read(at, at + horizon(schedule), name)

        def answer() -> OnCallNow:  # off the event loop: a calendar's shifts too
            return on_call_at(schedule, at, reading.overrides, self._imported(schedule, at, at + horizon(schedule)))

        return await asyncio.to_thread(answer), reading

    async def shifts(self, name: str, start: datetime, end: datetime) -> tuple[list[Shift], Reading]:
        """The final shifts of schedule `name` over [start, end)."""
        schedule = self.schedule(name)
        reading = await self.read(start, end, name)

        def final() -> list[Shift]:  # off the event loop: a calendar's shifts too
            return schedule_shifts(schedule, start, end, reading.overrides, self._imported(schedule, start, end))

        return await asyncio.to_thread(final), reading
