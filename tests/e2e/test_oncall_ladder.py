"""The ladder pages the people on call: a running alp-bot on the real state store and the fake
Slack Web API. A rung's schedule is resolved when the rung fires: the group is mentioned in the
incident's thread, whoever is on call is DMed (`conversations.open`), the page records who; a rung
with nobody on call says so and the next rung is paged at once. `/alp oncall` and `alp oncall`."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import sqlite3
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from escalation.oncall.ical import calendar_events
from escalation.oncall.overrides import OverrideStore
from escalation.state.db import Database
from tests.support.oncall import FEED_TOKEN, TODAY, alp, oncall_env
from tests.support.processes import BotProcess, wait_until
from tests.support.slack_requests import announced, command


@pytest.fixture(scope="module")
def oncall_bot(fake_slack, tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("oncall") / "state.db"
    env = {**oncall_env(f"sqlite:///{path}"), "SLACK_API_URL": fake_slack.api_url}
    proc = BotProcess(env, tmp_path_factory.mktemp("log") / "bot.log").start()
    proc.state_path = path  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def thread_posts(fake_slack, ts: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.args.get("text", "") for c in fake_slack.called("chat.postMessage") if c.args.get("thread_ts") == ts]


def page_records(path: Path, n: int) -> list[dict[str, object]]:
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT text, data FROM alp_timeline WHERE incident_id = ? AND kind = 'page'", (n,)
        ).fetchall()
    return [{"text": t, **json.loads(d)} for t, d in rows]


def test_a_rung_with_nobody_on_call_says_so_and_the_next_rung_is_paged_at_once(oncall_bot, fake_slack):
    t0 = time.monotonic()
    command(oncall_bot, fake_slack, "incident open P0 checkout down")
    msg, n = announced(fake_slack, "checkout down")
    ts = msg.response["ts"]
    gap = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("thread_ts") == ts and "nobody is on call" in c.args.get("text", "")
    )
    assert (
        "primary" in gap.args["text"]
        and "`devops`" in gap.args["text"]
        and "moving on to secondary" in gap.args["text"]
    )
    page = fake_slack.wait_for(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "you are paged for" in c.args.get("text", ""),
        timeout=15,
    )
    assert time.monotonic() - t0 < 15  # not the 120 s a rung waits
    assert page.args["text"].startswith("<!subteam^S0PLATFORM> (<@U0PLAT1>)")
    assert "secondary" in page.args["text"]
    fake_slack.wait_for("conversations.open", lambda c: c.args.get("users") == "U0PLAT1")
    dm = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "DU0PLAT1")
    assert f"INC-{n}" in dm.args["text"]
    assert not [c for c in fake_slack.called("conversations.open") if c.args.get("users") in ("U0DEVA", "U0DEVB")]
    wait_until(lambda: len(page_records(oncall_bot.state_path, n)) == 2)
    records = page_records(oncall_bot.state_path, n)
    assert [r["paged"] for r in records] == [[], ["U0PLAT1"]]
    assert records[0]["gap"] is True and records[0]["schedule"] == "devops" and records[1]["schedule"] == "platform"


def test_an_override_puts_its_person_on_the_primary_rung(oncall_bot, fake_slack):
    async def cover() -> None:
        db = Database(f"sqlite:///{oncall_bot.state_path}")
        try:
            at = datetime.now(UTC)
            await OverrideStore(db).add(
                "devops", "U0COVER", at - timedelta(minutes=1), at + timedelta(hours=1), "U0ALICE"
            )
        finally:
            await db.close()

    asyncio.run(cover())
    command(oncall_bot, fake_slack, "incident open P0 search is slow")
    msg, n = announced(fake_slack, "search is slow")
    page = fake_slack.wait_for(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == msg.response["ts"] and "you are paged for" in c.args.get("text", ""),
    )
    assert page.args["text"].startswith("<!subteam^S0DEVOPS> (<@U0COVER>)") and "primary" in page.args["text"]
    fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "DU0COVER")
    assert not any("nobody is on call" in t for t in thread_posts(fake_slack, msg.response["ts"]))
    records = wait_until(lambda: page_records(oncall_bot.state_path, n))
    assert [r["paged"] for r in records] == [["U0COVER"]]


def test_slash_oncall_answers_in_the_askers_time_zone(oncall_bot, fake_slack):
    fake_slack.users["U0ALICE"] = {"tz": "Asia/Tokyo"}
    status, _, took = command(oncall_bot, fake_slack, "oncall --schedule platform")
    assert status == 200 and took < 3
    reply = fake_slack.wait_for("response_url", lambda c: "platform" in c.args.get("text", ""))
    text = reply.args["text"]
    assert "<@U0PLAT1> now" in text and "JST" in text and "devops" not in text.split("Ladder")[0]
    command(oncall_bot, fake_slack, "oncall --schedule nosuch")
    refusal = fake_slack.wait_for("response_url", lambda c: "nosuch" in c.args.get("text", ""))
    assert "schedules: devops, platform" in refusal.args["text"]


def test_slash_oncall_week_sends_its_picture_to_the_asker(oncall_bot, fake_slack):
    fake_slack.users["U0ALICE"] = {"tz": "Europe/Berlin"}
    command(oncall_bot, fake_slack, "oncall week --schedule platform")
    words = fake_slack.wait_for("response_url", lambda c: "the week from" in c.args.get("text", ""))
    assert "<@U0PLAT1>" in words.args["text"]
    fake_slack.wait_for("conversations.open", lambda c: c.args.get("users") == "U0ALICE")
    upload = fake_slack.wait_for("upload", lambda c: c.args["head"] == "89504e470d0a1a0a")
    assert upload.args["file_id"]
    done = fake_slack.wait_for("files.completeUploadExternal", lambda c: "On call, the week" in json.dumps(c.args))
    assert done.args.get("channel_id") == "DU0ALICE", done.args


def test_alp_json_oncall_keeps_the_contracts_shape(tmp_path):
    env = oncall_env(f"sqlite:///{tmp_path}/s.db")
    at = "2026-11-01T05:30:00+00:00"  # 01:30 EDT, the hour New York repeats
    out = alp(env, "--json", "oncall", "--at", at)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    schedules = {s["name"]: s for s in body["data"]["schedules"]}
    assert set(schedules) == {"devops", "platform"}
    plat = schedules["platform"]
    assert plat["on_call"] == ["U0PLAT1"] and plat["until"] is None  # one person: no change ahead
    assert plat["next"] == {"on_call": [], "at": None}
    assert schedules["devops"]["on_call"] == [] and schedules["devops"]["next"]["at"] is None  # starts > 15 days on
    soon = alp(env, "--json", "oncall", "--schedule", "devops", "--at", f"{TODAY + timedelta(days=28)}T12:00Z")
    dev = json.loads(soon.stdout)["data"]["schedules"][0]
    assert dev["on_call"] == [] and dev["next"]["on_call"] == ["U0DEVA"]
    start = datetime.fromisoformat(dev["until"])
    assert start == datetime.fromisoformat(dev["next"]["at"])
    assert (
        start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%Y-%m-%d %H:%M") == f"{TODAY + timedelta(days=30)} 09:00"
    )
    one = alp(env, "--json", "oncall", "--schedule", "platform", "--at", "2026-03-08T12:00Z")
    assert [s["name"] for s in json.loads(one.stdout)["data"]["schedules"]] == ["platform"]


def test_alp_oncall_mistakes_are_clear_answers(tmp_path):
    env = oncall_env(f"sqlite:///{tmp_path}/s.db")
    bad = alp(env, "oncall", "--schedule", "nosuch")
    assert bad.returncode == 64 and "no on-call schedule `nosuch` (schedules: devops, platform)" in bad.stderr
    bad = alp(env, "oncall", "--at", "tomorrow")
    assert bad.returncode == 64 and "not an ISO 8601 time" in bad.stderr and "Traceback" not in bad.stderr
    bad = alp(env, "oncall", "--schedul", "devops")
    assert bad.returncode == 64 and "Did you mean `--schedule`" in bad.stderr
    text = alp(env, "oncall", "--at", "2026-12-01T15:00Z")
    assert text.returncode == 0 and "platform: <@U0PLAT1> now" in text.stdout.replace("*", "")
    assert not (tmp_path / "s.db").exists()  # asking does not create a state store


def test_no_schedule_configured_keeps_todays_answer(tmp_path):
    env = {**oncall_env(f"sqlite:///{tmp_path}/s.db"), "ALP_ONCALL__SCHEDULES": "[]"}
    out = alp(env, "oncall")
    assert out.returncode == 0 and "Primary:" in out.stdout and "Secondary:" in out.stdout
    assert json.loads(alp(env, "--json", "oncall").stdout)["data"]["schedules"] == []


def test_the_feed_is_the_schedules_final_shifts_behind_its_token(oncall_bot, fake_slack):
    base = f"{oncall_bot.url}/oncall"

    def status(path: str) -> int:
        try:
            with urllib.request.urlopen(f"{base}/{path}", timeout=15) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as err:
            return err.code

    assert status("devops.ics") == 403 and status("devops.ics?token=wrong") == 403
    assert status(f"nosuch.ics?token={FEED_TOKEN}") == 404
    with urllib.request.urlopen(f"{base}/devops.ics?token={FEED_TOKEN}", timeout=15) as resp:
        assert resp.headers["Content-Type"].startswith("text/calendar")
        data = resp.read()
    at = datetime.now(UTC)
    events = calendar_events(data, "UTC", at - timedelta(days=40), at + timedelta(days=200))
    rotation = [e for e in events if e.who != ("U0COVER",)]
    assert [e.who for e in rotation[:4]] == [("U0DEVA",), ("U0DEVB",), ("U0DEVA",), ("U0DEVB",)]
    berlin = ZoneInfo("Europe/Berlin")
    assert all(e.start.astimezone(berlin).strftime("%H:%M") == "09:00" for e in rotation)  # across a DST switch
    assert rotation[0].start.astimezone(berlin).date() == TODAY + timedelta(days=30)
    for a, b in itertools.pairwise(rotation[:-1]):
        assert a.end == b.start  # weekly, back to back, at 09:00 Berlin whatever the season


def test_the_managers_warning_agrees_with_a_secondary_rung_that_is_a_gap(fake_slack, platform, tmp_path):
    """Both scheduled rungs are gaps: the ladder reaches the manager's phone at once, so the thread
    never announces it "in 1 min" (it said so, then phoned at once)."""
    empty = {"users": ["U0LATER1"], "turn": "1w", "start": str(TODAY + timedelta(days=30))}
    schedules = [
        {"name": "devops", "time_zone": "Europe/Berlin", "group": "S0DEVOPS", "layers": [empty]},
        {"name": "platform", "time_zone": "America/New_York", "group": "S0PLATFORM", "layers": [empty]},
    ]
    env = {
        **oncall_env(f"sqlite:///{tmp_path}/state.db", schedules),
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_ESCALATION__STEP_WAIT_S": "20",  # within the default 120 s warning: warned as soon as it is next
        "ALP_ESCALATION__PAGER_WEBHOOK_URL": f"{platform.base}/pager/v2/enqueue",
    }
    bot = BotProcess(env, tmp_path / "bot.log").start()
    try:
        command(bot, fake_slack, "incident open P0 payments stuck")
        msg, _ = announced(fake_slack, "payments stuck")
        ts = msg.response["ts"]
        phoned = fake_slack.wait_for(
            "chat.postMessage", lambda c: c.args.get("thread_ts") == ts and "by phone" in c.args.get("text", "")
        )
        assert phoned is not None
        posts = thread_posts(fake_slack, ts)
        gaps = [p for p in posts if "nobody is on call" in p]
        assert len(gaps) == 2 and "moving on to manager now" in gaps[1], posts
        warned = [p for p in posts if "Next page: manager" in p]
        assert not [p for p in warned if re.search(r"\(in [1-9]\d* min\)", p)], warned
    finally:
        bot.stop()
