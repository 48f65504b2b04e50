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
BEHIND, AHEAD = timedelta(days=7), timedelta(days=60)  # the window a read expands


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
    """Every imported calendar of `settings`. `shifts` is what `Directory` asks (synchronously)."""

    def __init__(
        self,
        settings: OncallSettings,
        people: People | None = None,
        reader: Callable[[Schedule, float], Awaitable[bytes]] = fetch,
    ) -> None:
        self.settings, self.people, self.reader = settings, people, reader
        self.states: dict[str, CalendarState] = {}

    async def refresh(self, schedule: Schedule, at: datetime | None = None) -> CalendarState:
        """Read, expand and match one calendar now; a failure is kept as its state's `error` (the
        occurrences of an earlier read are not used: the coverage is unknown until a read succeeds)."""
        at = at or now()
        state = self.states.setdefault(schedule.name, CalendarState())
        try:
            data = await self.reader(schedule, self.settings.ical_timeout_s)
            if len(data) > MAX_BYTES:
                raise RuntimeError(f"the calendar is larger than {MAX_BYTES // 1024 // 1024} MiB")
            start, end = at - BEHIND, at + AHEAD
            occ = await asyncio.to_thread(calendar_events, data, schedule.time_zone, start, end)
            words = {w for o in occ for w in o.who}
            people, unmatched, unchecked = await match_people(words, self.people)
        except Exception as err:
            state.error = str(err) or type(err).__name__
            state.read_at = at
            log.warning("calendar of schedule %s: %s", schedule.name, state.error)
            return state
        self.states[schedule.name] = CalendarState(
            occ, people, unmatched, unchecked, start=start, end=end, read_at=at, error=None
        )
        return self.states[schedule.name]

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
            await asyncio.sleep(self.settings.ical_refresh_s)

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
        if start < state.start or end > state.end:
            raise CalendarUnavailable(
                f"schedule `{schedule.name}`: its calendar is read from {state.start:%Y-%m-%d} to {state.end:%Y-%m-%d} only"
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
