"""The on-call words read as sentences: "until when" when nothing changes, hours rounded to a tenth
wherever hours are shown (previews, coverage, the week), and who made a change from the terminal
said once, whoever made it and where."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from commands.changes.audit import audit_changes
from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.coverage import coverage_findings
from escalation.oncall.directory import Directory
from escalation.oncall.override_flow import OverrideAsk, preview, preview_text
from escalation.oncall.view import oncall_data, oncall_words, week_data, week_words

# An hour count with more than one decimal (2.48333 h, 2.4999999 h) is a number no reader wants.
UNROUNDED = re.compile(r"\d+\.\d{2,} ?h\b")
ODD = timedelta(minutes=29, seconds=1, microseconds=500)  # a start typed as "now", not on the hour


def office_hours(zone: str = "Europe/Berlin") -> Schedule:
    """Weekdays 09:00-17:00 local: gaps every night and weekend."""
    layer = Layer(users=["U0ANNA", "U0BORIS"], turn="1d", handoff="09:00", start=date(2026, 1, 5), hours="09:00-17:00")
    return Schedule(name="devops", time_zone=zone, layers=[layer])


async def test_nothing_changing_is_said_as_a_sentence_not_until_for() -> None:
    alone = Schedule(
        name="solo",
        time_zone="America/New_York",
        layers=[Layer(users=["U0SOLO1"], turn="1w", start=date(2026, 1, 5))],
    )
    directory = Directory(OncallSettings(schedules=[alone]))
    data = await oncall_data(directory, datetime(2027, 3, 10, 12, tzinfo=UTC))
    assert data["schedules"][0]["until"] is None
    text = oncall_words(data, None)
    assert "until for" not in text
    assert "*solo*: <@U0SOLO1> now, with no change for the next two weeks at least" in text, text


async def test_hours_are_rounded_wherever_they_are_shown() -> None:
    directory = Directory(OncallSettings(schedules=[office_hours()]))
    start = datetime(2030, 3, 12, 14, tzinfo=UTC) + ODD  # a Tuesday: Anna or Boris until 17:00 CET
    ask = OverrideAsk("devops", "U0CARLA", start, start + timedelta(hours=6, minutes=7), "U0CARLA")
    shown = preview_text(await preview(directory, ask), {})
    assert "gives up" in shown and "It fills" in shown, shown
    assert not UNROUNDED.search(shown), shown
    assert "(6.1 h)" in shown and "gives up 1.5 h" in shown and "It fills 4.6 h nobody covered" in shown, shown

    findings = await coverage_findings(directory, start)
    said = " ".join(f"{f.title} {f.detail} {f.evidence}" for f in findings)
    assert "nobody on call" in said and not UNROUNDED.search(said), said

    week = week_words(await week_data(directory, start), None)
    assert not UNROUNDED.search(week), week
    assert "(1.5 h): <@" in week  # the rest of Tuesday's shift, to 17:00 CET


def _override_rows(actor: str, via: str | None) -> list[dict[str, object]]:
    params: dict[str, object] = {"schedule": "platform", "user": "U0PLAT3", "by": actor, "override": 1}
    if via is not None:
        params["via"] = via
    at = datetime(2027, 3, 10, 12, tzinfo=UTC)
    return [
        {"id": 1, "at": at, "actor": actor, "event": "outcome", "action": "oncall-override", "params": params}
        | {"result": "done: U0PLAT3 covers platform …"}
    ]


def test_who_made_an_override_is_said_once_and_where() -> None:
    since = datetime(2027, 3, 10, tzinfo=UTC)
    [terminal] = audit_changes(_override_rows("carol", "terminal"), {}, since)
    assert terminal.by == "carol (terminal)"
    [slack] = audit_changes(_override_rows("U0LEAD", "slack"), {}, since)
    assert slack.by == "U0LEAD" and "terminal" not in slack.by
    [before] = audit_changes(_override_rows("dan (terminal)", None), {}, since)  # written by the last release
    assert before.by == "dan (terminal)"
