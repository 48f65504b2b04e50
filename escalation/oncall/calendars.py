"""Imported calendars (`ical_url` / `ical_file`): read, expanded and matched to Slack people on an
interval, kept in memory per process (a calendar is read-only: every replica reads its own copy).

A calendar not read yet, or whose last read failed, has UNKNOWN coverage (`CalendarUnavailable`
with the reason), never "nobody". People are matched by Slack user id, by e-mail
(`users.lookupByEmail`) or by handle; a word no one matches is kept in `unmatched` for the check,
and one Slack was not asked about (no token) or did not answer for in `unchecked` with the reason:
the hours of its events are UNKNOWN (`CalendarUnavailable`), not a gap.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import aiohttp

from escalation.oncall.config import OncallSettings, Schedule
from escalation.oncall.directory import CalendarUnavailable
from escalation.oncall.ical import EMAIL, SLACK_ID, Occurrence, calendar_events, occurrence_shifts
from escalation.oncall.rotation import Shift
from escalation.state.db import now

log = logging.getLogger(__name__)
MAX_BYTES = 5 * 1024 * 1024
# The window each read expands: the feed's 30 days back and 180 ahead, `oncall`, the check's 14
# days. A window asked beyond it (`oncall week --at` months away, an override far ahead) is
# expanded when asked (`Calendars.cover`), up to MAX_WINDOW at once, with PAD around it.
BEHIND, AHEAD = timedelta(days=31), timedelta(days=200)
MAX_WINDOW, PAD = timedelta(days=400), timedelta(days=14)


class People(Protocol):
    """Who a calendar's words name (the bot asks Slack)."""

    async def by_email(self, email: str) -> str | None: ...

    async def by_handle(self, handle: str) -> str | None: ...


@dataclass
class CalendarState:
    """The last read of one calendar: its occurrences over [start, end), who the words name, when,
    and the error of the last attempt (None: it succeeded)."""

    occurrences: list[Occurrence] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    unchecked: dict[str, str] = field(default_factory=dict)  # word -> why Slack was not asked / did not answer
    start: datetime | None = None
    end: datetime | None = None
    read_at: datetime | None = None
    error: str | None = None
    data: bytes = b""  # the calendar as last read, expanded again for a window asked beyond [start, end)
    asked: CalendarState | None = None  # the last such window's expansion (its own error, if any)

    def covers(self, start: datetime, end: datetime) -> bool:
        return self.start is not None and self.end is not None and self.start <= start and end <= self.end


async def fetch(schedule: Schedule, timeout_s: float) -> bytes:
    """The calendar's bytes; RuntimeError saying why not (a timeout, an HTTP status, a missing file)."""
    if schedule.ical_file:
        path = Path(schedule.ical_file)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except OSError as err:
            raise RuntimeError(f"ical_file {schedule.ical_file}: {err.strerror or err}") from None
        return data[: MAX_BYTES + 1]
    url = schedule.ical_url or ""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http:
            async with http.get(url) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"ical_url answered HTTP {resp.status}")
                return await resp.content.read(MAX_BYTES + 1)
    except TimeoutError:
        raise RuntimeError(f"ical_url did not answer within {timeout_s:g}s") from None
    except aiohttp.ClientError as err:
        raise RuntimeError(f"ical_url could not be read: {type(err).__name__}: {err}") from None


NO_TOKEN = "no SLACK_BOT_TOKEN to look e-mails and handles up with"


async def match_people(words: set[str], people: People | None) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """(word -> Slack id for every word someone matches, the words Slack says no one is, word ->
    why it was not looked up: no token, or Slack's error). Not looked up is unknown, never "no one"."""
    found: dict[str, str] = {}
    unmatched: list[str] = []
    unchecked: dict[str, str] = {}
    for w in sorted(words):
        if SLACK_ID.fullmatch(w):
            found[w] = w
            continue
        if people is None:
            unchecked[w] = NO_TOKEN
            continue
        try:
            uid = await (people.by_email(w) if EMAIL.fullmatch(w) else people.by_handle(w.lstrip("@")))
        except Exception as err:  # Slack down or refusing: this word is not known, said by the check
            log.warning("matching %r to a Slack user: %s", w, err)
            unchecked[w] = f"Slack did not answer: {type(err).__name__}: {err}"[:300]
            continue
        if uid:
            found[w] = uid
        else:
            unmatched.append(w)
    return found, unmatched, unchecked


class Calendars:
    """Every imported calendar of `settings`. `shifts` is what `Directory` asks (synchronously),
    after `cover` made the reading cover the window asked."""

    def __init__(
        self,
        settings: OncallSettings,
        people: People | None = None,
        reader: Callable[[Schedule, float], Awaitable[bytes]] = fetch,
    ) -> None:
        self.settings, self.people, self.reader = settings, people, reader
        self.states: dict[str, CalendarState] = {}
        self.read_once = asyncio.Event()  # set when `run` has read every calendar once (or failed to)

    async def refresh(self, schedule: Schedule, at: datetime | None = None) -> CalendarState:
        """Read, expand and match one calendar now; a failure is kept as its state's `error` (the
        occurrences of an earlier read are not used: the coverage is unknown until a read succeeds)."""
        at = at or now()
        state = self.states.setdefault(schedule.name, CalendarState())
        try:
            data = await self.reader(schedule, self.settings.ical_timeout_s)
            if len(data) > MAX_BYTES:
                raise RuntimeError(f"the calendar is larger than {MAX_BYTES // 1024 // 1024} MiB")
            read = await self._expand(schedule, data, at - BEHIND, at + AHEAD)
        except Exception as err:
            state.error = str(err) or type(err).__name__
            state.read_at = at
            log.warning("calendar of schedule %s: %s", schedule.name, state.error)
            return state
        read.read_at, read.data = at, data
        self.states[schedule.name] = read
        return read

    async def _expand(self, schedule: Schedule, data: bytes, start: datetime, end: datetime) -> CalendarState:
        """`data` expanded over [start, end) (off the event loop) and its people matched."""
        occ = await asyncio.to_thread(calendar_events, data, schedule.time_zone, start, end)
        people, unmatched, unchecked = await match_people({w for o in occ for w in o.who}, self.people)
        return CalendarState(occ, people, unmatched, unchecked, start=start, end=end)

    async def cover(self, start: datetime, end: datetime, name: str | None = None) -> None:
        """Make the calendars read so far (of schedule `name`, None: all) cover [start, end): a
        window beyond the last read's is expanded from the same bytes now (at most MAX_WINDOW;
        longer, `shifts` says how far the calendar was read). Directory.read calls it first."""
        for schedule in self.imported:
            state = self.states.get(schedule.name)
            if (name is not None and schedule.name != name) or state is None or state.error or not state.data:
                continue  # `shifts` says why (not read yet, its last read failed)
            if state.covers(start, end) or (state.asked is not None and state.asked.covers(start, end)):
                continue
            if end - start > MAX_WINDOW:
                continue
            try:
                state.asked = await self._expand(schedule, state.data, start - PAD, end + PAD)
            except Exception as err:  # that window's own problem (a reversed event there): said by `shifts`
                state.asked = CalendarState(start=start - PAD, end=end + PAD, error=str(err) or type(err).__name__)

    @property
    def imported(self) -> list[Schedule]:
        """The schedules read from a calendar."""
        return [s for s in self.settings.schedules if not s.layers]

    async def refresh_all(self) -> None:
        for s in self.imported:
            await self.refresh(s)

    async def run(self) -> None:
        """Read every imported calendar now and every `ical_refresh_s` (until cancelled)."""
        while True:
            try:
                await self.refresh_all()
            except Exception:  # refresh keeps each calendar's error; this is a bug's last guard
                log.exception("refreshing calendars")
            self.read_once.set()
            await asyncio.sleep(self.settings.ical_refresh_s)

    async def first_read(self) -> None:
        """Until `run` has read every calendar once (each read bounded by `ical_timeout_s`)."""
        await self.read_once.wait()

    def shifts(self, schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
        """The calendar's shifts over [start, end); CalendarUnavailable when its coverage is unknown."""
        state = self.states.get(schedule.name)
        if state is None or state.read_at is None:
            raise CalendarUnavailable(f"schedule `{schedule.name}`: its calendar has not been read yet")
        if state.error is not None:
            raise CalendarUnavailable(
                f"schedule `{schedule.name}`: the last read of its calendar failed: {state.error}"
            )
        assert state.start is not None and state.end is not None
        if not state.covers(start, end):
            if state.asked is None or not state.asked.covers(start, end):
                raise CalendarUnavailable(
                    f"schedule `{schedule.name}`: its calendar is read from {state.start:%Y-%m-%d} to "
                    f"{state.end:%Y-%m-%d} only (a window beyond is read when asked, at most "
                    f"{MAX_WINDOW.days} days at once; asked {start:%Y-%m-%d} to {end:%Y-%m-%d})"
                )
            state = state.asked
            if state.error is not None:
                raise CalendarUnavailable(
                    f"schedule `{schedule.name}`: its calendar, read for that time: {state.error}"
                )
        unknown = sorted(
            {w for o in state.occurrences if o.start < end and o.end > start for w in o.who if w in state.unchecked}
        )
        if unknown:  # who those hours are is not known: unknown, not a gap
            why = state.unchecked[unknown[0]]
            raise CalendarUnavailable(
                f"schedule `{schedule.name}`: people its calendar names were not looked up in Slack ({why}): "
                + ", ".join(unknown[:5])
                + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            )
        return occurrence_shifts(state.occurrences, state.people, start, end)
