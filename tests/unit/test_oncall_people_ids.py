"""One rule for what a Slack user id looks like (U or W, then letters and digits with at least one
digit): calendars name people by it, and every override path refuses a person who is not one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from commands.params import UsageError
from escalation.oncall.ical import calendar_events

CAL = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    "BEGIN:VEVENT\r\nUID:a@t\r\nDTSTAMP:20261001T000000Z\r\nDTSTART:20261020T090000Z\r\n"
    "DTEND:20261021T090000Z\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def who(summary: str) -> tuple[str, ...]:
    found = calendar_events(
        CAL.format(summary=summary).encode(),
        "UTC",
        datetime(2026, 10, 20, tzinfo=UTC),
        datetime(2026, 10, 22, tzinfo=UTC),
    )
    return found[0].who


@pytest.mark.parametrize(
    "summary,ids",
    [
        ("On call: U0DEVA", ("U0DEVA",)),  # six characters, as short workspaces' ids are
        ("Primary U1A2 then W0B", ("U1A2", "W0B")),
        ("On call: U024BE7LH", ("U024BE7LH",)),
    ],
)
def test_slack_ids_of_any_length_in_a_calendar_are_matched(summary, ids):
    assert who(summary) == ids


@pytest.mark.parametrize("summary", ["On call UTC week", "USA team WORK shift"])
def test_words_that_only_look_like_ids_are_not_people(summary):
    assert not any(w in ("UTC", "USA", "WORK") for w in who(summary))


@pytest.mark.parametrize("word", ["", "   ", "ulrich", "UTC", "@", "U"])
def test_a_person_who_is_not_a_slack_user_is_a_usage_error(word):
    from bot.oncall.command import parse_user

    with pytest.raises(UsageError):
        parse_user(word)
