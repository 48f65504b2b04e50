"""Final shifts of on-call schedules: layers at local wall-clock handoffs, restrictions, later layers
over earlier ones, overrides on top; right across both DST switches of America/New_York and Europe/Berlin."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.shifts import Override, on_call_at, schedule_shifts

# 2026's switches: New York 8 Mar (02:00 -> 03:00) and 1 Nov (02:00 -> 01:00);
# Berlin 29 Mar (02:00 -> 03:00) and 25 Oct (03:00 -> 02:00).
SWITCHES = {
    "America/New_York": (date(2026, 3, 8), date(2026, 11, 1)),
    "Europe/Berlin": (date(2026, 3, 29), date(2026, 10, 25)),
}


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def sched(zone: str, *layers: Layer, name: str = "devops") -> Schedule:
    return Schedule(name=name, time_zone=zone, layers=list(layers))


def assert_tiles(shifts, start, end):  # type: ignore[no-untyped-def]
    """No hour uncovered or doubled: each shift starts where the previous ended, from start to end."""
    assert shifts[0].start == start and shifts[-1].end == end
    for a, b in itertools.pairwise(shifts):
        assert a.end == b.start and a.start < a.end
    assert sum(s.hours for s in shifts) == pytest.approx((end - start).total_seconds() / 3600)


@pytest.mark.parametrize("zone", sorted(SWITCHES))
@pytest.mark.parametrize("turn,handoff", [("1d", "09:00"), ("12h", "08:30"), ("1d", "02:30"), ("1w", "01:30")])
def test_handoffs_stay_at_local_wall_time_across_both_dst_switches(zone, turn, handoff):
    tz = ZoneInfo(zone)
    s = sched(zone, Layer(users=["U0A", "U0B", "U0C"], turn=turn, handoff=handoff, start=date(2026, 1, 5)))
    for switch in SWITCHES[zone]:
        start = datetime.combine(switch - timedelta(days=15), datetime.min.time(), tz).astimezone(UTC)
        end = start + timedelta(days=30)
        shifts = schedule_shifts(s, start, end)
        assert_tiles(shifts, start, end)
        assert all(sh.users for sh in shifts), "no gap in a one-layer rotation"
        h, m = (int(x) for x in handoff.split(":"))
        step = {"1d": 24, "12h": 12, "1w": 168}[turn]
        wall = {((h + i * step) % 24, m) for i in range(2)}
        for sh in shifts[1:]:
            local = sh.start.astimezone(tz)
            if (local.hour, local.minute) not in wall:
                # only a handoff the spring-forward skips may move, and then by the hour skipped
                assert local.date() == SWITCHES[zone][0] and (local.hour - 1, local.minute) in wall
        lengths = sorted({round(sh.hours) for sh in shifts[1:-1]})
        assert set(lengths) <= {step - 1, step, step + 1} and step in lengths
        # the turn order never skips or repeats anyone across the switch
        order = [sh.users[0] for sh in shifts]
        for a, b in itertools.pairwise(order):
            assert "ABC".index(b[-1]) == ("ABC".index(a[-1]) + 1) % 3


def test_berlin_day_of_the_autumn_switch_is_25_hours_and_spring_23():
    s = sched("Europe/Berlin", Layer(users=["U0A", "U0B"], turn="1d", handoff="09:00", start=date(2026, 1, 1)))
    shifts = schedule_shifts(s, utc(2026, 3, 27), utc(2026, 3, 31))
    spring = next(sh for sh in shifts if sh.start == utc(2026, 3, 28, 8))  # 09:00 CET
    assert spring.end == utc(2026, 3, 29, 7) and spring.hours == 23  # 09:00 CEST
    shifts = schedule_shifts(s, utc(2026, 10, 23), utc(2026, 10, 27))
    autumn = next(sh for sh in shifts if sh.start == utc(2026, 10, 24, 7))
    assert autumn.end == utc(2026, 10, 25, 8) and autumn.hours == 25


def test_rotation_order_from_its_start_anchor():
    s = sched("UTC", Layer(users=["U0A", "U0B", "U0C"], turn="1w", handoff="10:00", start=date(2026, 1, 5)))
    assert on_call_at(s, utc(2026, 1, 5, 9, 59)).on_call == ()  # before the start: nobody
    now = on_call_at(s, utc(2026, 1, 5, 10))
    assert now.on_call == ("U0A",) and now.until == utc(2026, 1, 12, 10)
    assert now.next_on_call == ("U0B",) and now.next_at == utc(2026, 1, 12, 10)
    assert on_call_at(s, utc(2026, 1, 26, 10)).on_call == ("U0A",)  # fourth week: back to the first
    assert on_call_at(s, utc(2026, 1, 25, 12)).on_call == ("U0C",)


def test_a_later_layer_covers_an_earlier_one_within_its_restriction():
    week = Layer(users=["U0A", "U0B"], turn="1w", handoff="09:00", start=date(2026, 3, 2))
    business = Layer(
        users=["U0X", "U0Y"],
        turn="1d",
        handoff="00:00",
        start=date(2026, 3, 2),
        days=["mon", "tue", "wed", "thu", "fri"],
        hours="09:00-17:00",
    )
    s = sched("America/New_York", week, business)
    tz = ZoneInfo("America/New_York")
    start, end = datetime(2026, 3, 2, 9, tzinfo=tz), datetime(2026, 3, 16, 9, tzinfo=tz)
    shifts = schedule_shifts(s, start.astimezone(UTC), end.astimezone(UTC))
    assert_tiles(shifts, start.astimezone(UTC), end.astimezone(UTC))

    # Monday 9 March (after the switch) 10:00 local: the business layer's second day's user is UY
    def who(local: datetime) -> tuple[str, ...]:
        at = local.astimezone(UTC)
        return next(sh.users for sh in shifts if sh.start <= at < sh.end)

    assert who(datetime(2026, 3, 9, 10, tzinfo=tz)) == ("U0Y",)  # day 7 of a 2-user daily rotation
    assert who(datetime(2026, 3, 10, 16, 59, tzinfo=tz)) == ("U0X",)
    assert who(datetime(2026, 3, 10, 17, 0, tzinfo=tz)) == ("U0B",)  # after hours: the weekly layer, week 2
    assert who(datetime(2026, 3, 7, 12, tzinfo=tz)) == ("U0A",)  # Saturday: weekly layer, week 1
    assert who(datetime(2026, 3, 9, 8, 59, tzinfo=tz)) == ("U0A",)  # week 1 ends at 09:00 Monday
    assert who(datetime(2026, 3, 9, 9, 0, tzinfo=tz)) == ("U0Y",)


def test_overnight_restriction_leaves_gaps_that_are_reported_as_gaps():
    night = Layer(users=["U0N"], turn="1d", handoff="00:00", start=date(2026, 1, 1), hours="22:00-06:00")
    s = sched("Europe/Berlin", night)
    shifts = schedule_shifts(s, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert_tiles(shifts, utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    covered = [sh for sh in shifts if sh.users]
    # Saturday 22:00 CET -> Sunday 06:00 CEST is 7 real hours (the switch), Sunday night 8
    assert [round(sh.hours) for sh in covered] == [7, 8]
    assert all(sh.source == "gap" for sh in shifts if not sh.users)
    now = on_call_at(s, utc(2026, 3, 28, 12))
    assert now.on_call == () and now.next_on_call == ("U0N",) and now.next_at == utc(2026, 3, 28, 21)


def test_overrides_on_top_newest_wins_and_nothing_uncovered():
    s = sched("America/New_York", Layer(users=["U0A", "U0B"], turn="1d", handoff="09:00", start=date(2026, 10, 1)))
    start, end = utc(2026, 10, 31), utc(2026, 11, 3)
    sick = Override(1, "devops", "U0C", utc(2026, 10, 31, 20), utc(2026, 11, 2, 14))  # across the fall back
    swap = Override(2, "devops", "UD", utc(2026, 11, 1, 0), utc(2026, 11, 1, 6))
    other = Override(3, "platform", "UZ", start, end)  # another schedule's: ignored here
    shifts = schedule_shifts(s, start, end, [sick, swap, other])
    assert_tiles(shifts, start, end)
    users = [(sh.start, sh.users) for sh in shifts]
    assert (utc(2026, 10, 31, 20), ("U0C",)) in users and (utc(2026, 11, 1, 0), ("UD",)) in users
    assert (utc(2026, 11, 1, 6), ("U0C",)) in users
    after = next(sh for sh in shifts if sh.start == utc(2026, 11, 2, 14))
    assert after.users == ("U0A",) and after.end == utc(2026, 11, 3)  # 2 Nov 09:00 EST = 14:00 UTC: turn 32 -> UA


def test_schedules_from_the_environment_as_json(monkeypatch):
    from bot.settings import load_settings

    monkeypatch.setenv(
        "ALP_ONCALL__SCHEDULES",
        '[{"name": "devops", "time_zone": "Europe/Berlin", "group": "S0DEVOPS", "channel": "C0OPS",'
        ' "layers": [{"users": ["U0A", "U0B"], "turn": "1w", "handoff": "10:00", "start": "2026-01-05"}]}]',
    )
    monkeypatch.setenv("ALP_ONCALL__FEED_TOKEN", "feed-secret-123")
    s = load_settings()
    devops = s.oncall.get("devops")
    assert devops is not None and devops.group == "S0DEVOPS" and devops.layers[0].users == ["U0A", "U0B"]
    assert s.oncall.feed_token is not None and s.oncall.feed_token.get_secret_value() == "feed-secret-123"


def test_schedules_from_the_toml_file(monkeypatch, tmp_path):
    from bot.settings import load_settings

    path = tmp_path / "alp.toml"
    path.write_text(
        '[[oncall.schedules]]\nname = "platform"\ntime_zone = "America/New_York"\n'
        '[[oncall.schedules.layers]]\nusers = ["UP1", "UP2"]\nturn = "12h"\nhandoff = "08:00"\nstart = 2026-03-01\n'
        'days = ["sat", "sun"]\n'
    )
    monkeypatch.setenv("ALP_CONFIG", str(path))
    platform = load_settings().oncall.get("platform")
    assert platform is not None and platform.layers[0].days == ["sat", "sun"] and platform.layers[0].turn == "12h"


@pytest.mark.parametrize(
    "schedule,says",
    [
        ({"time_zone": "Mars/Olympus", "layers": [{"users": ["U01"], "start": "2026-01-01"}]}, "unknown time zone"),
        ({"layers": [{"users": [], "start": "2026-01-01"}]}, "at least one user"),
        ({"layers": [{"users": ["U01"], "start": "2026-01-01", "turn": "3m"}]}, "a number and h, d or w"),
        ({"layers": [{"users": ["U01"], "start": "2026-01-01", "handoff": "25:00"}]}, "not a local time"),
        ({"layers": [{"users": ["U01"], "start": "2026-01-01", "hours": "9-17"}]}, "not a local time"),
        ({"layers": [{"users": ["U01"], "start": "2026-01-01", "days": ["funday"]}]}, "days"),
        ({}, "exactly one"),
        ({"ical_url": "http://cal.example/x.ics"}, "https://"),
    ],
)
def test_a_bad_schedule_is_refused_naming_the_field(monkeypatch, schedule, says):
    import json

    from bot.settings import ConfigError, load_settings

    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps([{"name": "devops", **schedule}]))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "oncall.schedules" in str(err.value) and says in str(err.value)


def test_two_schedules_of_one_name_are_refused():
    with pytest.raises(ValidationError, match="unique"):
        OncallSettings(schedules=[sched("UTC", Layer(users=["U00"], start=date(2026, 1, 1)))] * 2)


async def test_the_week_view_lists_the_final_shifts_in_local_time_across_the_switch():
    from escalation.oncall.directory import Directory
    from escalation.oncall.view import week_data, week_words

    s = sched("Europe/Berlin", Layer(users=["U0A", "U0B"], turn="1d", handoff="09:00", start=date(2026, 3, 1)))
    data = await week_data(Directory(OncallSettings(schedules=[s])), utc(2026, 3, 27, 8), None)
    text = week_words(data, None)
    lines = text.splitlines()
    assert lines[0] == "*devops* (Europe/Berlin), the week from Fri 27 Mar 09:00 CET:"
    # the switch's day: each end in its own zone (the start was CET; "09:00 CEST" alone hides the hour)
    assert "  Sat 28 Mar 09:00 CET - Sun 29 Mar 09:00 CEST (23 h): <@U0B>" in lines  # turn 27
    assert "  Sun 29 Mar 09:00 - Mon 30 Mar 09:00 CEST (24 h): <@U0A>" in lines
    assert len(lines) == 8  # seven days, one shift each, and the head


async def test_two_overrides_overlapping_across_the_switch_give_each_end_its_own_zone(tmp_path):
    """The tester's "both cover Sun 28 Mar 00:30-05:00 CEST": 00:30 is CET (2027's switch is 28 Mar)."""
    from escalation.oncall.directory import Directory
    from escalation.oncall.overrides import OverrideStore
    from escalation.oncall.view import week_data, week_words
    from escalation.state.db import Database

    s = sched("Europe/Berlin", Layer(users=["U0A", "U0B"], turn="1d", handoff="09:00", start=date(2027, 3, 1)))
    db = Database(f"sqlite:///{tmp_path}/s.db")
    try:
        store = OverrideStore(db)
        await store.add("devops", "U0C1", utc(2027, 3, 27, 22), utc(2027, 3, 28, 5), "U0LEAD")
        await store.add("devops", "U0C2", utc(2027, 3, 27, 23, 30), utc(2027, 3, 28, 3), "U0LEAD")
        data = await week_data(Directory(OncallSettings(schedules=[s]), store), utc(2027, 3, 27, 11), None)
    finally:
        await db.close()
    text = week_words(data, None)
    assert "both cover Sun 28 Mar 00:30 CET-05:00 CEST: #2 wins" in text, text
