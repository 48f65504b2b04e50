"""The override preview names each DST switch inside the span at its real instant, whatever minute
the span starts at: Europe/Berlin and America/New_York, spring and autumn (2027)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.coverage import coverage_findings
from escalation.oncall.directory import Directory
from escalation.oncall.override_flow import OverrideAsk, dst_switches, preview, preview_text

CASES = [  # zone, the switch (UTC), the words: the wall clock before it, and after
    (
        "Europe/Berlin",
        datetime(2027, 3, 28, 1, tzinfo=UTC),
        "springs forward 1 h at Sun 28 Mar 02:00 CET (to 03:00 CEST)",
    ),
    ("Europe/Berlin", datetime(2027, 10, 31, 1, tzinfo=UTC), "falls back 1 h at Sun 31 Oct 03:00 CEST (to 02:00 CET)"),
    (
        "America/New_York",
        datetime(2027, 3, 14, 7, tzinfo=UTC),
        "springs forward 1 h at Sun 14 Mar 02:00 EST (to 03:00 EDT)",
    ),
    ("America/New_York", datetime(2027, 11, 7, 6, tzinfo=UTC), "falls back 1 h at Sun 07 Nov 02:00 EDT (to 01:00 EST)"),
]


@pytest.mark.parametrize("zone,switch,words", CASES)
@pytest.mark.parametrize("off", [timedelta(0), timedelta(minutes=29, seconds=1), timedelta(minutes=59, seconds=59)])
async def test_the_preview_puts_the_switch_at_its_instant(zone, switch, words, off):
    tz = ZoneInfo(zone)
    start = switch - timedelta(hours=30) + off  # a start typed at any minute
    assert dst_switches(tz, start, start + timedelta(days=2)) == [
        (switch, timedelta(hours=1) if switch.month < 6 else timedelta(hours=-1))
    ]
    layer = Layer(users=["U0ANNA", "U0BORIS"], turn="1d", handoff="09:00", start=date(2027, 1, 4))
    directory = Directory(OncallSettings(schedules=[Schedule(name="devops", time_zone=zone, layers=[layer])]))
    ask = OverrideAsk("devops", "U0CARLA", start, start + timedelta(days=2), "U0CARLA")
    text = preview_text(await preview(directory, ask), {})
    assert f":clock3: {zone} {words} inside this span" in text, text

    findings = await coverage_findings(directory, start, timedelta(days=2))
    local = switch.astimezone(tz)
    assert f"at {local:%a %d %b %H:%M %Z}" in findings[0].detail, findings[0].detail
