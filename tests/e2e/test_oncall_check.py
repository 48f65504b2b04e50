"""`alp check oncall`: judged like every check (evidence or UNKNOWN) against the real state store
and the fake Slack: gaps ahead and now, a group someone edited, a deactivated person on call, a
calendar that cannot be read (UNKNOWN, never "nobody"), a refused group sync, the pager webhook."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.bot_env import BOT_TOKEN, ESCALATION_ENV
from tests.support.oncall import alp

TODAY = datetime.now(UTC).date()


def env_for(tmp_path, fake_slack, schedules, **extra: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        **ESCALATION_ENV,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/s.db",
        "ALP_ONCALL__SCHEDULES": json.dumps(schedules),
        "ALP_TIMEOUTS__PROBE_S": "2",
        **extra,
    }


def findings(out) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    body = json.loads(out.stdout)
    return {f["title"]: f for f in body["findings"]}


def test_gaps_people_groups_calendars_and_the_pager_are_judged(tmp_path, fake_slack):
    weekdays = {  # nobody at weekends: a gap ahead (and now, on a weekend)
        "name": "devops",
        "time_zone": "Europe/Berlin",
        "group": "S0DEVOPS",
        "layers": [
            {"users": ["U0ANNA"], "turn": "1d", "start": "2026-01-01", "days": ["mon", "tue", "wed", "thu", "fri"]}
        ],
    }
    platform = {
        "name": "platform",
        "time_zone": "America/New_York",
        "group": "S0PLATFORM",
        "layers": [{"users": ["U0GONE", "U0PAUL"], "turn": "1d", "start": "2026-01-01"}],
    }
    broken = {"name": "ml", "ical_file": str(tmp_path / "missing.ics")}
    fake_slack.users.update({"U0ANNA": {}, "U0PAUL": {}, "U0GONE": {"deleted": True}})
    fake_slack.usergroups.update({"S0DEVOPS": ["U0ANNA"], "S0PLATFORM": ["U0SOMEONEELSE"]})
    out = alp(env_for(tmp_path, fake_slack, [weekdays, platform, broken]), "--json", "check", "oncall")
    got = findings(out)
    weekend = TODAY.weekday() >= 5
    devops = next(f for t, f in got.items() if t.startswith("devops: nobody on call"))
    assert devops["severity"] == ("critical" if weekend else "warning")
    assert "a page to this rung then says so and moves on" in devops["detail"]
    rows = devops["evidence"][0]["rows"]
    assert all(r[0].startswith("Sat") and r[0].endswith(("00:00 CET", "00:00 CEST")) for r in rows if not weekend)
    assert (
        got["ml: coverage unknown"]["severity"] == "unknown" and "missing.ics" in got["ml: coverage unknown"]["detail"]
    )
    gone = next(f for t, f in got.items() if t.startswith("<@U0GONE> is on call"))
    assert gone["severity"] == "critical" and "deactivated" in gone["detail"]
    drift = next(f for t, f in got.items() if t.startswith("platform: user group"))
    assert drift["severity"] == "warning" and "<@U0SOMEONEELSE>" in drift["detail"]
    assert got["pager webhook not configured: the manager rung cannot be paged"]["severity"] == "warning"
    assert out.returncode == 2 and json.loads(out.stdout)["severity"] == "critical"


def test_a_covered_schedule_is_ok_and_says_what_it_looked_at(tmp_path, fake_slack):
    always = {
        "name": "devops",
        "time_zone": "America/New_York",
        "group": "S0DEVOPS",
        "layers": [{"users": ["U0ANNA", "U0BEN"], "turn": "1w", "start": "2026-01-05"}],
    }
    fake_slack.users.update({"U0ANNA": {}, "U0BEN": {}})
    week = (TODAY - datetime(2026, 1, 5).date()).days // 7
    fake_slack.usergroups["S0DEVOPS"] = ["U0ANNA" if week % 2 == 0 else "U0BEN"]
    pager = "http://127.0.0.1:9/never"  # nothing listens: not answering
    out = alp(
        env_for(tmp_path, fake_slack, [always], ALP_ESCALATION__PAGER_WEBHOOK_URL=pager), "--json", "check", "oncall"
    )
    got = findings(out)
    ok = got["devops: covered for the next 14 days"]
    assert ok["severity"] == "ok" and "2 people" in ok["detail"]
    assert got["devops: user group matches who is on call"]["severity"] == "ok"
    assert not [t for t in got if "cannot be paged" in t]
    assert got["pager webhook not answering: the manager rung would fail"]["severity"] == "critical"
    assert "Traceback" not in out.stderr


async def test_health_carries_one_on_call_line_and_none_without_schedules(tmp_path, fake_slack, testbed):
    import commands.catalogue  # noqa: F401  (the health line's report hook)
    from bot.oncall.check import oncall_evidence
    from bot.settings import Settings
    from commands.registry import CheckContext, CheckResult, CheckSpec, NoParams
    from commands.runner import run_check
    from escalation.oncall.config import OncallSettings, Schedule

    async def nothing(ctx, params):  # type: ignore[no-untyped-def]
        return CheckResult([])

    spec = CheckSpec("health", "-", "-", NoParams, nothing)
    gap = Schedule.model_validate(
        {"name": "devops", "layers": [{"users": ["U0ANNA"], "start": str(TODAY + timedelta(days=3))}]}
    )
    base = {
        **{k.lower().removeprefix("alp_"): v for k, v in testbed.items() if k in ("ALP_POSTGRES_DSN", "ALP_REDIS_URL")}
    }
    with_gap = Settings(**base, state_url=f"sqlite:///{tmp_path}/s.db", oncall=OncallSettings(schedules=[gap]))
    report = await run_check(spec, CheckContext(with_gap, oncall=oncall_evidence), NoParams())
    lines = [f for f in report.findings if f.probe == "oncall"]
    assert len(lines) == 1 and lines[0].severity.value == "critical"
    assert lines[0].title.startswith("on-call: devops: nobody on call now") and "more: `check oncall`" in lines[0].title
    plain = await run_check(
        spec, CheckContext(Settings(**base, state_url=f"sqlite:///{tmp_path}/s.db"), oncall=oncall_evidence), NoParams()
    )
    assert not [f for f in plain.findings if f.probe == "oncall"]
