"""iCal import and export of on-call schedules: a Google-style calendar (X-WR-TIMEZONE floating times,
RRULE, EXDATE, a moved occurrence, a per-event TZID) gives the shifts a calendar client shows; the
exported feed parses back to the same shifts; bad calendars and sources are clear errors."""

from __future__ import annotations

import json
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall.people import SlackPeople
from escalation.oncall.calendars import Calendars, fetch
from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.directory import CalendarUnavailable, Directory
from escalation.oncall.ical import CalendarError, calendar_events, feed, occurrence_shifts
from escalation.oncall.shifts import Override, schedule_shifts
from tests.support.bot_env import BOT_TOKEN

GOOGLE = Path(__file__).parent / "data" / "google_oncall.ics"
ALICE, BOB, CAROL = "U0ALICE01", "U0BOB1234", "U0CAROL01"


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def people_slack(fake_slack) -> SlackPeople:  # type: ignore[no-untyped-def]
    fake_slack.users.update(
        {
            ALICE: {"email": "Alice@Example.com", "name": "alice", "tz": "America/New_York"},
            CAROL: {"email": "carol@example.com", "name": "carol", "tz": "Europe/Berlin"},
        }
    )
    return SlackPeople(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))


async def test_a_google_calendar_gives_the_shifts_a_calendar_client_shows(fake_slack):
    schedule = Schedule(name="platform", time_zone="America/New_York", ical_file=str(GOOGLE))
    cals = Calendars(OncallSettings(schedules=[schedule]), people_slack(fake_slack))
    state = await cals.refresh(schedule, at=utc(2026, 10, 20))
    assert state.error is None and state.unmatched == []
    shifts = cals.shifts(schedule, utc(2026, 10, 19, 13), utc(2026, 12, 7, 14))
    assert [(s.start, s.end, s.users) for s in shifts] == [
        (utc(2026, 10, 19, 13), utc(2026, 10, 26, 13), (ALICE,)),  # 09:00 EDT, matched by e-mail
        (utc(2026, 10, 26, 13), utc(2026, 11, 2, 14), (BOB,)),  # across the fall back: 169 h
        (utc(2026, 11, 2, 14), utc(2026, 11, 9, 14), (ALICE,)),
        (utc(2026, 11, 9, 17), utc(2026, 11, 16, 14), (BOB,)),  # moved to 12:00: a 3 h gap before it
        (utc(2026, 11, 16, 14), utc(2026, 11, 16, 17), (BOB, CAROL)),  # Berlin 15:00 = 09:00 EST
        (utc(2026, 11, 16, 17), utc(2026, 11, 23, 14), (CAROL,)),  # EXDATE: Alice's week is Carol's
        (utc(2026, 11, 23, 14), utc(2026, 11, 30, 14), (BOB,)),
        (utc(2026, 11, 30, 14), utc(2026, 12, 7, 14), (ALICE,)),
    ]
    # the gap is a gap in the final shifts, with overrides on top as for any schedule
    final = schedule_shifts(
        schedule,
        utc(2026, 11, 9, 12),
        utc(2026, 11, 9, 18),
        [Override(1, "platform", "U0DAVE001", utc(2026, 11, 9, 16), utc(2026, 11, 9, 17))],
        imported=cals.shifts(schedule, utc(2026, 11, 9, 12), utc(2026, 11, 9, 18)),
    )
    assert [(s.start.hour, s.end.hour, s.users) for s in final] == [
        (12, 14, (ALICE,)),
        (14, 16, ()),
        (16, 17, ("U0DAVE001",)),
        (17, 18, (BOB,)),
    ]


async def test_the_exported_feed_parses_back_to_the_same_shifts():
    layers = [
        Layer(users=["U0AAAAAA1", "U0BBBBBB2"], turn="1d", handoff="09:00", start=date(2026, 3, 1)),
        Layer(users=["U0NIGHT01"], turn="1w", start=date(2026, 3, 1), days=["sat"], hours="22:00-06:00"),
    ]
    schedule = Schedule(name="devops", time_zone="Europe/Berlin", layers=layers)
    start, end = utc(2026, 3, 20), utc(2026, 4, 5)  # Berlin springs forward on 29 March
    over = [Override(4, "devops", "U0COVER01", utc(2026, 3, 28, 23), utc(2026, 3, 29, 10))]
    shifts = [s for s in schedule_shifts(schedule, start, end, over) if s.users]
    data = feed("devops", "Europe/Berlin", shifts, utc(2026, 3, 1))
    back = calendar_events(data, "UTC", start, end)
    people = {u: u for o in back for u in o.who}
    assert occurrence_shifts(back, people, start, end) == [
        s.__class__(s.start, s.end, s.users, "calendar") for s in shifts
    ]
    assert b"X-WR-CALNAME:On call: devops" in data and data.count(b"BEGIN:VEVENT") == len(shifts)


@pytest.mark.parametrize(
    "data,says",
    [
        (b"this is not a calendar", "not an iCalendar file"),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026XXXX\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "cannot be expanded.*DTSTART",
        ),
    ],
)
def test_an_unreadable_calendar_is_a_clear_error(data, says):
    with pytest.raises(CalendarError, match=says):
        calendar_events(data, "UTC", utc(2026, 1, 1), utc(2026, 2, 1))


async def test_a_failed_read_makes_coverage_unknown_never_nobody(tmp_path, fake_slack):
    path = tmp_path / "cal.ics"
    path.write_bytes(GOOGLE.read_bytes())
    schedule = Schedule(name="platform", time_zone="America/New_York", ical_file=str(path))
    settings = OncallSettings(schedules=[schedule])
    cals = Calendars(settings, people_slack(fake_slack))
    directory = Directory(settings, None, cals.shifts)
    with pytest.raises(CalendarUnavailable, match="not been read"):
        await directory.now("platform", utc(2026, 10, 20))
    await cals.refresh(schedule, at=utc(2026, 10, 20))
    now, _ = await directory.now("platform", utc(2026, 10, 20))
    assert now.on_call == (ALICE,) and now.until == utc(2026, 10, 26, 13) and now.next_on_call == (BOB,)
    path.write_text("garbage")  # the next read fails: unknown, not the old copy, not nobody
    state = await cals.refresh(schedule, at=utc(2026, 10, 20))
    assert state.error is not None and "not an iCalendar file" in state.error
    with pytest.raises(CalendarUnavailable, match="last read of its calendar failed"):
        await directory.now("platform", utc(2026, 10, 20))
    path.unlink()
    state = await cals.refresh(schedule, at=utc(2026, 10, 20))
    assert "ical_file" in (state.error or "") and "No such file" in (state.error or "")


async def test_a_calendar_url_that_does_not_answer_times_out_with_a_reason():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(server.accept()[0]), daemon=True).start()
    port = server.getsockname()[1]
    schedule = Schedule(name="x", ical_url=f"https://127.0.0.1:{port}/cal.ics")
    try:
        with pytest.raises(RuntimeError, match=r"did not answer within 0.5s"):
            await fetch(schedule, 0.5)
    finally:
        for s in held:
            s.close()
        server.close()


async def test_a_person_no_one_matches_is_reported_and_not_paged(fake_slack, tmp_path):
    path = tmp_path / "cal.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20261020T090000Z\r\nDTEND:20261021T090000Z\r\nSUMMARY:On call: nobody@example.com\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    schedule = Schedule(name="platform", ical_file=str(path))
    cals = Calendars(OncallSettings(schedules=[schedule]), people_slack(fake_slack))
    state = await cals.refresh(schedule, at=utc(2026, 10, 20))
    assert state.unmatched == ["nobody@example.com"]
    assert cals.shifts(schedule, utc(2026, 10, 20), utc(2026, 10, 22)) == []


async def test_an_override_on_a_calendar_that_cannot_be_read_is_refused_with_the_reason(tmp_path):
    from escalation.oncall.override_flow import OverrideAsk, preview

    schedule = Schedule(name="platform", ical_file=str(tmp_path / "missing.ics"))
    settings = OncallSettings(schedules=[schedule])
    cals = Calendars(settings)
    await cals.refresh(schedule)
    at = datetime.now(UTC)
    ask = OverrideAsk("platform", "U0X", at, at + timedelta(hours=2), "U0Y")
    shown = await preview(Directory(settings, None, cals.shifts), ask)
    assert shown.refusal is not None and "unknown" in shown.refusal and "missing.ics" in shown.refusal


def _calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\nDTSTAMP:20261101T000000Z\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nX-WR-TIMEZONE:Europe/Berlin\r\n{body}END:VCALENDAR\r\n"
    return text.replace("\n ", "\n").replace("\r\n\r\n", "\r\n").encode()


def test_cancelled_events_and_cancelled_occurrences_are_not_shifts():
    data = _calendar(
        "UID:whole\r\nDTSTART:20261207T090000\r\nDTEND:20261207T170000\r\nSUMMARY:U0AAA1\r\nSTATUS:CANCELLED",
        # Google's way: the series, and one occurrence of it cancelled by its RECURRENCE-ID
        "UID:series\r\nDTSTART:20261208T090000\r\nDTEND:20261208T170000\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:U0BBB1",
        "UID:series\r\nRECURRENCE-ID:20261209T090000\r\nDTSTART:20261209T090000\r\nDTEND:20261209T170000\r\n"
        "SUMMARY:U0BBB1\r\nSTATUS:cancelled",
        "UID:kept\r\nDTSTART:20261211T090000\r\nDTEND:20261211T170000\r\nSUMMARY:U0CCC1\r\nSTATUS:CONFIRMED",
    )
    found = calendar_events(data, "UTC", utc(2026, 12, 1), utc(2027, 1, 1))
    assert [(o.start, o.who) for o in found] == [
        (utc(2026, 12, 8, 8), ("U0BBB1",)),  # 09:00 Berlin
        (utc(2026, 12, 10, 8), ("U0BBB1",)),
        (utc(2026, 12, 11, 8), ("U0CCC1",)),
    ]


@pytest.mark.parametrize(
    "event",
    [
        "UID:backwards-1\r\nDTSTART:20261211T170000\r\nDTEND:20261211T090000\r\nSUMMARY:U0BBB1",
        "UID:backwards-1\r\nDTSTART:20261211T170000\r\nDURATION:-PT8H\r\nSUMMARY:U0BBB1",
        # a weekly series whose every occurrence is reversed (its first one before the window)
        "UID:backwards-1\r\nDTSTART:20261101T170000\r\nDTEND:20261101T090000\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:U0BBB1",
    ],
)
async def test_an_event_that_ends_before_it_starts_is_a_named_problem_not_swapped(tmp_path, event):
    path = tmp_path / "cal.ics"
    path.write_bytes(_calendar("UID:fine\r\nDTSTART:20261210T090000\r\nDTEND:20261210T170000\r\nSUMMARY:U0AAA1", event))
    with pytest.raises(CalendarError, match=r"`backwards-1` \(U0BBB1\) ends before it starts"):
        calendar_events(path.read_bytes(), "UTC", utc(2026, 12, 1), utc(2027, 1, 1))
    schedule = Schedule(name="platform", ical_file=str(path))
    cals = Calendars(OncallSettings(schedules=[schedule]))
    state = await cals.refresh(schedule, at=utc(2026, 12, 5))
    assert state.error is not None and "backwards-1" in state.error
    with pytest.raises(CalendarUnavailable, match="ends before it starts"):  # coverage unknown, said
        cals.shifts(schedule, utc(2026, 12, 5), utc(2026, 12, 12))


def test_a_reversed_event_outside_the_window_read_does_not_stop_the_read():
    data = _calendar(
        "UID:old\r\nDTSTART:20191211T170000\r\nDTEND:20191211T090000\r\nSUMMARY:U0OLD1",
        "UID:fine\r\nDTSTART:20261210T090000\r\nDTEND:20261210T170000\r\nSUMMARY:U0AAA1",
    )
    found = calendar_events(data, "UTC", utc(2026, 12, 1), utc(2027, 1, 1))
    assert [o.who for o in found] == [("U0AAA1",)]


def _named_by_email(tmp_path: Path) -> Schedule:
    path = tmp_path / "cal.ics"
    path.write_bytes(
        _calendar(
            "UID:mail\r\nDTSTART:20261210T090000\r\nDTEND:20261211T090000\r\nSUMMARY:On call\r\n"
            "ATTENDEE:mailto:alice@example.com",
            "UID:id\r\nDTSTART:20261211T090000\r\nDTEND:20261212T090000\r\nSUMMARY:U0BOB1234",
        )
    )
    return Schedule(name="platform", ical_file=str(path))


@pytest.mark.parametrize(
    "people,why",
    [
        (None, "no SLACK_BOT_TOKEN"),  # the terminal without a token
        (SlackPeople(AsyncWebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/")), "Slack did not answer"),
    ],
)
async def test_people_not_looked_up_are_not_checked_not_matched_by_no_one(tmp_path, people, why):
    """An e-mail Slack was not asked about (no token, Slack down) is unknown, not "no one": it is
    not in `unmatched`, the hours its event covers are UNKNOWN (not a gap), and the reason is said."""
    schedule = _named_by_email(tmp_path)
    cals = Calendars(OncallSettings(schedules=[schedule]), people)
    state = await cals.refresh(schedule, at=utc(2026, 12, 5))
    assert state.error is None and state.unmatched == []
    assert list(state.unchecked) == ["alice@example.com"] and why in state.unchecked["alice@example.com"]
    with pytest.raises(CalendarUnavailable, match=f"not looked up in Slack.*{why}.*alice@example.com"):
        cals.shifts(schedule, utc(2026, 12, 10), utc(2026, 12, 12))
    assert [s.users for s in cals.shifts(schedule, utc(2026, 12, 11, 9), utc(2026, 12, 12))] == [("U0BOB1234",)]


async def test_check_oncall_says_calendar_people_were_not_checked_without_a_token(tmp_path, monkeypatch):
    from bot.oncall.check import oncall_evidence
    from bot.settings import load_settings
    from commands.report import Severity

    schedule = _named_by_email(tmp_path)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps([schedule.model_dump(exclude_none=True)]))
    monkeypatch.setenv("ALP_STATE_URL", f"sqlite:///{tmp_path}/s.db")
    findings = (await oncall_evidence(load_settings())).findings
    said = [f for f in findings if "alice@example.com" in f"{f.title} {f.detail}"]
    assert said and all("no one" not in f"{f.title} {f.detail}" for f in said), [(f.title, f.detail) for f in findings]
    checked = [f for f in said if "not checked" in f.title]
    assert checked and checked[0].severity == Severity.UNKNOWN and "SLACK_BOT_TOKEN" in checked[0].title, said
    assert all(f.severity == Severity.UNKNOWN for f in said), said  # its hours' coverage too: unknown, not a gap


async def test_a_window_far_ahead_is_read_when_asked_and_one_too_long_says_how_far(tmp_path):
    """The calendar was read around 5 Dec 2026; a week in September 2027 (`oncall week --at`, an
    override far ahead) and the feed's 30 days back and 180 ahead are read when asked, not refused."""
    path = tmp_path / "cal.ics"
    path.write_bytes(
        _calendar(
            "UID:odd\r\nDTSTART:20261102T090000\r\nDTEND:20261109T090000\r\nRRULE:FREQ=WEEKLY;INTERVAL=2\r\n"
            "SUMMARY:U0ODD1",
            "UID:even\r\nDTSTART:20261109T090000\r\nDTEND:20261116T090000\r\nRRULE:FREQ=WEEKLY;INTERVAL=2\r\n"
            "SUMMARY:U0EVEN1",
        )
    )
    schedule = Schedule(name="platform", time_zone="Europe/Berlin", ical_file=str(path))
    settings = OncallSettings(schedules=[schedule])
    cals = Calendars(settings)
    await cals.refresh(schedule, at=utc(2026, 12, 5))
    directory = Directory(settings, None, cals.shifts, cover=cals.cover)
    shifts, _ = await directory.shifts("platform", utc(2027, 9, 1), utc(2027, 9, 15))
    assert [(s.start, s.users) for s in shifts] == [
        (utc(2027, 9, 1), ("U0EVEN1",)),  # 09:00 CEST Mondays: 30 Aug, 6 Sep, 13 Sep
        (utc(2027, 9, 6, 7), ("U0ODD1",)),
        (utc(2027, 9, 13, 7), ("U0EVEN1",)),
    ]
    feed_window, _ = await directory.shifts("platform", utc(2026, 11, 5), utc(2027, 6, 3))
    assert feed_window[0].start == utc(2026, 11, 5) and feed_window[-1].end == utc(2027, 6, 3)
    assert all(s.users for s in feed_window) and len(feed_window) > 25
    with pytest.raises(CalendarUnavailable, match=r"read from \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d only.*at most"):
        await directory.shifts("platform", utc(2028, 1, 1), utc(2030, 1, 1))
