"""`alp oncall` as a fresh on-call engineer types it: every mistake a clear usage error, the week
as JSON, and one rule of exit codes across the subcommands (README, Terminal): 0 answered or done,
1 refused (with the reason), 3 could not see (the state store or a calendar), 64 a usage mistake."""

from __future__ import annotations

import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.oncall import alp, oncall_env

PLATFORM = {
    "name": "platform",
    "time_zone": "America/New_York",
    "layers": [{"users": ["U0PLAT1", "U0PLAT2"], "turn": "1d", "handoff": "09:00", "start": "2026-01-01"}],
}


@pytest.fixture
def env(tmp_path):  # type: ignore[no-untyped-def]
    return {**oncall_env(f"sqlite:///{tmp_path}/s.db", [PLATFORM]), "SLACK_API_URL": "http://127.0.0.1:9"}


def overrides(tmp_path) -> int:  # type: ignore[no-untyped-def]
    if not (tmp_path / "s.db").exists():
        return 0
    with sqlite3.connect(tmp_path / "s.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return (
            db.execute("SELECT count(*) FROM alp_oncall_overrides").fetchone()[0]
            if "alp_oncall_overrides" in tables
            else 0
        )


def test_a_swap_in_the_terminal_stores_nothing_and_says_where_swaps_are_asked(env, tmp_path):
    out = alp(env, "oncall", "swap", "platform", "--for", "8h", "--yes")
    assert out.returncode == 64, out.stdout + out.stderr
    assert "Slack" in out.stderr and "alp oncall override" in out.stderr and "Traceback" not in out.stderr
    assert overrides(tmp_path) == 0


@pytest.mark.parametrize(
    "words",
    [
        ("oncall", "--at", "0001-01-01T00:00Z"),
        ("oncall", "week", "--at", "9999-12-31T23:00Z"),
        ("--json", "oncall", "--at", "1900-01-01"),
        ("oncall", "--at", "2400-01-01T00:00Z"),
    ],
)
def test_a_time_out_of_range_is_a_usage_error(env, words):
    out = alp(env, *words)
    assert out.returncode == 64 and "Traceback" not in out.stderr, out.stderr[-800:]
    assert "between 1970 and 2199" in out.stderr


def test_an_override_far_out_is_a_usage_error_too(env):
    out = alp(env, "oncall", "override", "platform", "U0PLAT2", "--from", "9999-12-31T20:00Z", "--for", "8h")
    assert out.returncode == 64 and "between 1970 and 2199" in out.stderr and "Traceback" not in out.stderr


def test_the_week_as_json_gives_its_shifts(env):
    out = alp(env, "--json", "oncall", "week", "--schedule", "platform", "--at", "2026-11-01T12:00Z")
    assert out.returncode == 0, out.stderr
    sched = json.loads(out.stdout)["data"]["schedules"][0]
    assert sched["name"] == "platform" and sched["time_zone"] == "America/New_York" and sched["error"] is None
    shifts = sched["shifts"]
    assert len(shifts) == 8  # 12:00 UTC is 07:00 EST: the day's shift to 09:00, then seven handoffs
    assert shifts[0]["start"] == "2026-11-01T12:00:00+00:00" and shifts[0]["end"] == "2026-11-01T14:00:00+00:00"
    assert {tuple(s["on_call"]) for s in shifts} == {("U0PLAT1",), ("U0PLAT2",)}
    for a, b in itertools.pairwise(shifts):
        assert a["end"] == b["start"]  # no hour uncovered or doubled


def test_exit_codes_follow_one_rule(env, tmp_path):
    assert alp(env, "oncall").returncode == 0
    assert alp(env, "oncall", "week").returncode == 0
    assert alp(env, "oncall", "--schedule", "nosuch").returncode == 64
    assert alp(env, "oncall", "override", "nosuch", "U0PLAT2", "--for", "1h").returncode == 64
    assert alp(env, "oncall", "take", "platform").returncode == 64  # take is Slack's (the asker covers)
    assert alp(env, "oncall", "undo", "77").returncode == 1  # refused: there is no override #77
    too_long = alp(env, "oncall", "override", "platform", "U0PLAT2", "--for", "20w", "--yes")
    assert too_long.returncode == 1 and "at most 90 days" in too_long.stdout + too_long.stderr
    start = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:00Z")
    done = alp(env, "oncall", "override", "platform", "U0PLAT2", "--from", start, "--for", "2h", "--yes")
    assert done.returncode == 0, done.stderr
    assert alp(env, "oncall", "undo", "1").returncode == 0
    again = alp(env, "oncall", "undo", "1")
    assert again.returncode == 1 and "already undone" in again.stdout + again.stderr
    down = {**env, "ALP_STATE_URL": "postgresql://alp:alp@127.0.0.1:9/alp"}  # nothing listens there
    for words in (("oncall", "undo", "1"), ("oncall", "override", "platform", "U0PLAT2", "--for", "1h")):
        out = alp(down, *words)
        assert out.returncode == 3 and "Traceback" not in out.stderr, (words, out.stderr[-800:])


def test_a_calendar_that_cannot_be_read_makes_the_answer_could_not_see(tmp_path):
    cal = {"name": "cal", "time_zone": "UTC", "ical_file": str(tmp_path / "missing.ics")}
    env = oncall_env(f"sqlite:///{tmp_path}/s.db", [PLATFORM, cal])
    out = alp(env, "oncall")
    assert out.returncode == 3 and "coverage UNKNOWN" in out.stdout
    assert alp(env, "oncall", "--schedule", "platform").returncode == 0  # the one asked about is seen
    week = alp(env, "--json", "oncall", "week")
    assert week.returncode == 3
    assert [s["error"] is not None for s in json.loads(week.stdout)["data"]["schedules"]] == [False, True]


def test_overrides_that_cannot_be_read_are_said_and_a_rotation_gap_is_not_nobody(tmp_path):
    """The state store is not a database: an override may fill the rotation's gap, so who is on
    call then is not known to be nobody; the JSON and the words say the overrides were not read."""
    (tmp_path / "s.db").write_text("not a database")
    later = {  # its rotation starts in 30 days: a gap now, by the rotation alone
        "name": "later",
        "time_zone": "UTC",
        "layers": [{"users": ["U0LATE1"], "turn": "1d", "start": str(datetime.now(UTC).date() + timedelta(days=30))}],
    }
    env = oncall_env(f"sqlite:///{tmp_path}/s.db", [PLATFORM, later])
    out = alp(env, "--json", "oncall", "--schedule", "later")
    assert out.returncode == 3 and "Traceback" not in out.stderr, out.stderr[-800:]
    sched = json.loads(out.stdout)["data"]["schedules"][0]
    assert sched["on_call"] != [] and sched["source"] != "gap", sched
    assert "overrides could not be read" in (sched["error"] or "") + sched["note"], sched
    covered = json.loads(alp(env, "--json", "oncall", "--schedule", "platform").stdout)["data"]["schedules"][0]
    assert covered["on_call"] and "overrides could not be read" in covered["note"], covered
    words = alp(env, "oncall")
    assert words.returncode == 3 and "(a gap)" not in words.stdout and "UNKNOWN" in words.stdout, words.stdout
    assert words.stdout.count("overrides could not be read") == 2, words.stdout
    week = json.loads(alp(env, "--json", "oncall", "week", "--schedule", "later").stdout)["data"]["schedules"][0]
    assert "overrides could not be read" in week["note"] and all(s["on_call"] != [] for s in week["shifts"]), week


@pytest.mark.parametrize(
    "words",
    [
        ("oncall", "--at", "2200"),
        ("oncall", "week", "--at", "2200"),
        ("--json", "oncall", "--at", "22:00"),
        ("oncall", "override", "platform", "U0PLAT2", "--for", "-2h", "--yes"),
        ("oncall", "override", "platform", "U0PLAT2", "--for=0h", "--yes"),
        ("oncall", "override", "platform", "U0PLAT2", "--from", "2200", "--for", "2h", "--yes"),
        # a span that ends at or before its start is a malformed pair of arguments, not a refusal
        ("oncall", "override", "platform", "U0PLAT2", "--from", "2027-01-10T10:00Z", "--until", "2027-01-10T08:00Z"),
        ("oncall", "override", "platform", "U0PLAT2", "--from", "2027-01-10T10:00Z", "--until", "2027-01-10T10:00Z"),
        ("--json", "oncall", "override", "platform", "U0PLAT2", "--until", "2020-01-01T00:00Z", "--yes"),
        # the same option twice: which one was meant is not guessed
        ("oncall", "override", "platform", "U0PLAT2", "--for", "2h", "--for", "3h", "--yes"),
        ("oncall", "--at", "2027-01-01", "--at=2027-02-01"),
        # an override id no override can have is not cut to one that might exist
        ("oncall", "undo", "99999999999999999999999"),
        ("oncall", "undo", "0"),
        ("oncall", "override", "platform", "not-a-user", "--for", "2h"),
        ("oncall", "week", "--schedule", "nosuch"),
    ],
)
def test_every_malformed_argument_is_a_usage_error(env, tmp_path, words):
    out = alp(env, *words)
    assert out.returncode == 64, (words, out.returncode, out.stdout[-400:], out.stderr[-400:])
    assert "Traceback" not in out.stderr and out.stderr.startswith("alp: "), out.stderr[-800:]
    assert overrides(tmp_path) == 0


def test_every_oncall_subcommand_answers_json_errors_too(env, tmp_path):
    """`alp --json oncall …`: a JSON object on stdout for the preview, the applied override, the undo,
    and every error (`error.kind`, `error.exit_code` equal to the process's exit code)."""
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    words = ("oncall", "override", "platform", "U0PLAT2", "--from", start.isoformat(), "--for", "2h")
    shown = alp(env, "--json", *words)
    assert shown.returncode == 0, shown.stderr[-800:]
    data = json.loads(shown.stdout)["data"]
    assert data["sub"] == "override" and data["applied"] is False and data["override"] is None
    assert (data["schedule"], data["user"], data["hours"]) == ("platform", "U0PLAT2", 2)
    assert data["start"] == start.isoformat() and data["end"] == (start + timedelta(hours=2)).isoformat()
    assert {x["user"] for x in data["losers"]} <= {"U0PLAT1"} and data["refusal"] is None
    assert overrides(tmp_path) == 0
    done = alp(env, "--json", *words, "--yes")
    assert done.returncode == 0, done.stderr[-800:]
    applied = json.loads(done.stdout)["data"]
    assert applied["applied"] is True and applied["override"] == 1 and "oncall undo 1" in applied["undo"]
    undone = alp(env, "--json", "oncall", "undo", "1")
    assert undone.returncode == 0 and json.loads(undone.stdout)["data"]["done"] is True, undone.stdout
    cases = [  # (words, exit code, error kind)
        (("oncall", "undo", "1"), 1, "refused"),  # already undone
        (("oncall", "override", "platform", "U0PLAT2", "--for", "20w"), 1, "refused"),
        (("oncall", "--at", "2200"), 64, "usage"),
        (("oncall", "override", "nosuch", "U0PLAT2", "--for", "1h"), 64, "usage"),
        (("oncall", "swap", "platform", "--for", "8h"), 64, "usage"),
    ]
    for case, code, kind in cases:
        out = alp(env, "--json", *case)
        assert out.returncode == code, (case, out.returncode, out.stderr[-400:])
        error = json.loads(out.stdout)["error"]
        assert (error["kind"], error["exit_code"]) == (kind, code) and error["message"], (case, error)
    down = alp({**env, "ALP_STATE_URL": "postgresql://alp:alp@127.0.0.1:9/alp"}, "--json", "oncall", "undo", "1")
    assert down.returncode == 3 and json.loads(down.stdout)["error"]["kind"] == "unseen", down.stdout


def test_a_calendar_week_months_away_is_read_for_the_week_asked(tmp_path):
    """`alp oncall week --at` eight months ahead on an imported calendar: the calendar is read for
    that week (it was read ~9 weeks ahead only, and the week was refused as unknown)."""
    (tmp_path / "cal.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20260105T090000Z\r\nDTEND:20260112T090000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:U0CAL1\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    cal = {"name": "cal", "time_zone": "UTC", "ical_file": str(tmp_path / "cal.ics")}
    env = {**oncall_env(f"sqlite:///{tmp_path}/s.db", [cal]), "SLACK_API_URL": "http://127.0.0.1:9"}
    at = (datetime.now(UTC) + timedelta(days=240)).strftime("%Y-%m-%dT12:00Z")
    out = alp(env, "--json", "oncall", "week", "--schedule", "cal", "--at", at)
    assert out.returncode == 0, out.stdout[-800:] + out.stderr[-800:]
    sched = json.loads(out.stdout)["data"]["schedules"][0]
    assert sched["error"] is None and {tuple(s["on_call"]) for s in sched["shifts"]} == {("U0CAL1",)}, sched


@pytest.mark.parametrize(
    "var,value,says",
    [
        ("ALP_ONCALL__SCHEDULES", '[{"name":"d",}]', "ALP_ONCALL__SCHEDULES"),
        ("ALP_ESCALATION__ONCALL__PRIMARY_SCHEDULE", "platfrom", "Did you mean `platform`?"),
        ("ALP_ONCALL__FEED_TOKN", "x", "FEED_TOKN".lower()),
    ],
)
def test_a_configuration_error_is_json_too(env, tmp_path, var, value, says):
    """The tester's `alp --json oncall` with a bad configuration printed nothing on stdout."""
    out = alp({**env, var: value}, "--json", "oncall")
    assert out.returncode == 64, (out.returncode, out.stderr[-400:])
    obj = json.loads(out.stdout)
    assert obj["data"] is None and (obj["error"]["kind"], obj["error"]["exit_code"]) == ("usage", 64)
    assert says in obj["error"]["message"], obj["error"]


def test_a_usage_error_keeps_the_top_level_keys_of_an_answer(env):
    """A script reading `data` gets null, not a KeyError."""
    ok = json.loads(alp(env, "--json", "oncall").stdout)
    for words in (("oncall", "--at", "2200"), ("oncall", "nosuchsub")):
        out = alp(env, "--json", *words)
        bad = json.loads(out.stdout)
        assert out.returncode == 64 and bad["data"] is None, (words, bad)
        assert set(bad) - {"error"} == set(ok) - {"error"}, (words, bad, ok)
