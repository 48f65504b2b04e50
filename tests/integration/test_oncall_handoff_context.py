"""What a handoff hands over beyond the people: the silences active in the test bed's real
Alertmanager (one that expires during the next shift marked), the last shift's changes (alp's own
actions from the real audit log), and a user group edited by hand between handoffs put back and
posted once per drift to the schedule's channel (two replicas)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall.groups import SlackGroups
from commands.backends.alertmanager import Alertmanager
from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.directory import Directory
from escalation.oncall.groups import GroupSync
from escalation.oncall.override_flow import OverrideAsk, apply
from escalation.oncall.overrides import OverrideStore
from escalation.state.audit import AuditLog
from escalation.state.db import Database
from tests.support.bot_env import BOT_TOKEN

GROUP = "S0DRIFT"
SCHEDULE = Schedule(
    name="devops",
    time_zone="America/New_York",
    group=GROUP,
    channel="C0HANDOFF",
    layers=[Layer(users=["U0ANNA", "U0BORIS"], turn="1d", handoff="09:00", start=date(2026, 1, 1))],
)


def work_for(settings, db, store, fake_slack, holder):  # type: ignore[no-untyped-def]
    from bot.oncall.handoff import HandoffWork

    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    sync = GroupSync(db, Directory(settings.oncall, store), SlackGroups(client), holder)
    return HandoffWork(settings, sync, client)


async def test_the_report_lists_active_silences_and_the_last_shifts_changes(tmp_path, fake_slack, testbed, unique):
    from bot.settings import Settings

    am = Alertmanager(testbed["ALP_ALERTMANAGER__URL"])
    soon = await am.create_silence({"alertname": f"{unique}-soon"}, 1, "U0ANNA", "disk cleanup running")
    later = await am.create_silence({"alertname": f"{unique}-later"}, 24 * 6, "U0BORIS", "")
    settings = Settings(
        state_url=f"sqlite:///{tmp_path}/s.db",
        oncall=OncallSettings(schedules=[SCHEDULE], handoff_health=False),
        alertmanager={"url": testbed["ALP_ALERTMANAGER__URL"]},
    )
    db = Database(settings.state_url)
    try:
        store = OverrideStore(db)
        at = datetime.now(UTC)
        await store.add("devops", "U0NEW", at - timedelta(minutes=10), at + timedelta(hours=3), "U0LEAD")
        work = work_for(settings, db, store, fake_slack, "r1")
        assert await work.report(SCHEDULE, at) is not None  # a handoff 10 minutes ago, reported
        # during that shift: an override applied (audited), then the next handoff a minute from now
        directory = Directory(settings.oncall, store)
        ask = OverrideAsk("devops", "U0CARLA", at + timedelta(hours=1), at + timedelta(hours=2), "U0NEW")
        assert not isinstance(await apply(directory, store, AuditLog(db), ask, "U0NEW", admin=True), str)
        await store.add("devops", "U0NEXT", at + timedelta(minutes=1), at + timedelta(hours=3), "U0LEAD")
        text = await work.report(SCHEDULE, at + timedelta(minutes=2))
        assert text is not None and "<@U0NEXT> takes over from <@U0NEW>" in text
        silences = next(line for line in text.splitlines() if line.startswith("*Silences active*"))
        assert f"alertname={unique}-soon" in silences and f"alertname={unique}-later" in silences
        mine = silences.split(f"{unique}-soon")[1].split(";")[0]
        assert "expires in this shift" in mine and "U0ANNA" in mine and "disk cleanup running" in mine
        assert "expires in this shift" not in silences.split(f"{unique}-later")[1].split(";")[0]
        changes = next(line for line in text.splitlines() if line.startswith("*Changes in the last shift*"))
        local = (at - timedelta(minutes=10)).astimezone(SCHEDULE.zone)
        assert f"since {local:%a %d %b %H:%M}" in changes and "U0CARLA" in changes, changes
    finally:
        await db.close()
        for s in (soon, later):
            await am.expire_silence(s)


async def test_unreadable_silences_are_said_not_left_out(tmp_path, fake_slack):
    from bot.settings import Settings

    settings = Settings(
        state_url=f"sqlite:///{tmp_path}/s.db",
        oncall=OncallSettings(schedules=[SCHEDULE], handoff_health=False),
        alertmanager={"url": "http://127.0.0.1:9"},
    )
    db = Database(settings.state_url)
    try:
        store = OverrideStore(db)
        at = datetime.now(UTC)
        await store.add("devops", "U0NEW", at - timedelta(minutes=5), at + timedelta(hours=3), "U0LEAD")
        text = await work_for(settings, db, store, fake_slack, "r1").report(SCHEDULE, at)
        assert text is not None and "*Silences*: unknown (" in text and "not reachable" in text
    finally:
        await db.close()


async def test_a_group_edited_by_hand_is_put_back_and_posted_once_per_drift(tmp_path, fake_slack):
    from bot.settings import Settings

    settings = Settings(oncall=OncallSettings(schedules=[SCHEDULE], handoff_health=False))
    fake_slack.usergroups[GROUP] = ["U0SOMEONE"]
    db = Database(f"sqlite:///{tmp_path}/s.db")
    try:
        store = OverrideStore(db)
        replicas = [work_for(settings, db, store, fake_slack, f"r{i}") for i in (1, 2)]
        await replicas[0].sync.sync_all()  # the handoff's sync: the group follows the schedule
        on_call = list(fake_slack.usergroups[GROUP])

        def drift_posts() -> list[str]:
            return [
                c.args["text"]
                for c in fake_slack.called("chat.postMessage")
                if c.args.get("channel") == "C0HANDOFF" and "out of step" in c.args.get("text", "")
            ]

        await asyncio.gather(*(r() for r in replicas))
        assert drift_posts() == []  # in step: nothing to say
        fake_slack.usergroups[GROUP] = [*on_call, "U0INTRUDER"]  # someone adds themselves mid-shift
        await asyncio.gather(*(r() for r in replicas))
        await asyncio.gather(*(r() for r in replicas))
        assert fake_slack.usergroups[GROUP] == on_call  # put back
        posts = drift_posts()
        assert len(posts) == 1 and "<@U0INTRUDER>" in posts[0] and "put back" in posts[0]
        fake_slack.usergroups[GROUP] = [*on_call, "U0INTRUDER"]  # and again: a second drift, a second post
        await asyncio.gather(*(r() for r in replicas))
        assert len(drift_posts()) == 2 and fake_slack.usergroups[GROUP] == on_call
    finally:
        await db.close()


async def test_the_handoff_health_run_has_the_wiring_of_alp_health(tmp_path, fake_slack, testbed, platform, ns):
    """The report's `health` run reads alp's own changes from the state store as `/alp health`
    does (it said "the state store's reader is not wired in this process")."""
    from bot.settings import Settings
    from tests.support.checks_env import config_for

    cfg = config_for(testbed, platform, ns)
    settings = Settings(
        **{name: getattr(cfg, name) for name in type(cfg).model_fields},
        state_url=f"sqlite:///{tmp_path}/s.db",
        oncall=OncallSettings(schedules=[SCHEDULE], handoff_health=True),
    )
    db = Database(settings.state_url)
    try:
        store = OverrideStore(db)
        at = datetime.now(UTC)
        ask = OverrideAsk("devops", "U0CARLA", at + timedelta(hours=1), at + timedelta(hours=2), "U0ANNA")
        assert not isinstance(await apply(Directory(settings.oncall, store), store, AuditLog(db), ask, "U0ANNA"), str)
        lines = await work_for(settings, db, store, fake_slack, "r1").health()
    finally:
        await db.close()
    assert not [line for line in lines if "not wired" in line or "Changes in the last hour" in line], lines
    assert not [line for line in lines if "changes" in line.lower() and "could not read" in line], lines


async def test_at_start_the_catch_up_report_of_a_calendar_schedule_waits_for_its_first_read(
    tmp_path, fake_slack, caplog
):
    """The tester's start-up traceback "CalendarUnavailable: … has not been read yet": the catch-up
    handoff ran before the calendar task had read anything. It waits for the first read (bounded)."""
    import logging

    from bot.oncall.handoff import HandoffWork, start_handoffs
    from bot.settings import Settings
    from escalation.oncall.calendars import Calendars
    from escalation.oncall.scheduler import HandoffScheduler

    at = datetime.now(UTC).replace(second=0, microsecond=0)
    began, ends = at - timedelta(minutes=10), at + timedelta(hours=2)
    path = tmp_path / "cal.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{began:%Y%m%dT%H%M%SZ}\r\nDTEND:{ends:%Y%m%dT%H%M%SZ}\r\nSUMMARY:On call: U0ICAL1\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    schedule = Schedule(name="ml", channel="C0MLHAND", ical_file=str(path))
    settings = Settings(
        state_url=f"sqlite:///{tmp_path}/s.db", oncall=OncallSettings(schedules=[schedule], handoff_health=False)
    )
    db = Database(settings.state_url)
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    calendars = Calendars(settings.oncall)
    directory = Directory(settings.oncall, OverrideStore(db), calendars.shifts, cover=calendars.cover)
    sync = GroupSync(db, directory, SlackGroups(client), "r1")
    handoffs = HandoffScheduler(directory, lambda: True, HandoffWork(settings, sync, client))
    caplog.set_level(logging.INFO)
    task = await start_handoffs(handoffs, calendars)
    try:
        posted = await asyncio.to_thread(
            fake_slack.wait_for, "chat.postMessage", lambda c: c.args.get("channel") == "C0MLHAND", 15
        )
        assert "U0ICAL1" in posted.args["text"], posted.args
    finally:
        handoffs.stop()
        if task is not None:
            task.cancel()
        await db.close()
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records if r.exc_info]
    assert "has not been read yet" not in caplog.text, caplog.text
