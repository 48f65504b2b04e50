"""Slack user groups kept equal to who is on call: once per change across replicas (claimed in the
real state store, SQLite and PostgreSQL), a handoff missed while down done once on return, a hand
edit put back and reported, refusals as findings; APScheduler's jobs wake only the leader."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall.groups import SlackGroups
from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.directory import Directory
from escalation.oncall.groups import GroupSync, last_results
from escalation.oncall.overrides import OverrideStore
from escalation.oncall.scheduler import HandoffScheduler
from escalation.state.db import Database
from tests.support.bot_env import BOT_TOKEN
from tests.support.clock import FakeClock

GROUP = "S0DEVOPS"
SETTINGS = OncallSettings(
    schedules=[
        Schedule(
            name="devops",
            time_zone="America/New_York",
            group=GROUP,
            layers=[Layer(users=["U0ANNA", "U0BORIS"], turn="1d", handoff="09:00", start=date(2026, 1, 1))],
        )
    ]
)


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


@pytest.fixture
def pg_url(testbed):  # type: ignore[no-untyped-def]
    name = f"alp_oncall_{uuid.uuid4().hex[:8]}"
    admin = testbed["ALP_POSTGRES_DSN"].rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{tmp_path}/s.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def slack_groups(fake_slack) -> SlackGroups:  # type: ignore[no-untyped-def]
    fake_slack.usergroups[GROUP] = ["U0SOMEONE"]
    return SlackGroups(AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))


def updates(fake_slack) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.args.get("users", "") for c in fake_slack.called("usergroups.users.update") if c.response.get("ok")]


async def test_two_replicas_sync_a_group_once_per_handoff(state_url, fake_slack):
    groups = slack_groups(fake_slack)
    dbs = [Database(state_url), Database(state_url)]
    try:
        syncs = [
            GroupSync(db, Directory(SETTINGS, OverrideStore(db)), groups, f"replica-{i}") for i, db in enumerate(dbs)
        ]
        at = utc(2026, 3, 8, 15)  # 8 March, 11:00 EDT, the day New York springs forward: turn 66 -> Anna
        results = await asyncio.gather(*(s.sync_all(at) for s in syncs for _ in range(3)))
        statuses = sorted(r[0].status for r in results)
        assert statuses == ["set", "skipped", "skipped", "skipped", "skipped", "skipped"]
        assert updates(fake_slack) == ["U0ANNA"] and fake_slack.usergroups[GROUP] == ["U0ANNA"]
        # the next handoff (9 March 09:00 EDT = 13:00 UTC), seen late by both: Boris, once
        later = utc(2026, 3, 9, 20)
        results = await asyncio.gather(*(s.sync_all(later) for s in syncs))
        assert sorted(r[0].status for r in results) == ["set", "skipped"]
        assert updates(fake_slack) == ["U0ANNA", "U0BORIS"]
        when, text = (await last_results(dbs[0]))["devops"]
        assert when == utc(2026, 3, 9, 13) and text.startswith("set: set to <@U0BORIS> (was <@U0ANNA>)")
    finally:
        for db in dbs:
            await db.close()


async def test_a_hand_edit_is_put_back_and_reported_and_an_override_and_its_undo_sync(tmp_path, fake_slack):
    groups = slack_groups(fake_slack)
    db = Database(f"sqlite:///{tmp_path}/s.db")
    try:
        clock = FakeClock().set(utc(2026, 3, 9, 14, 30))  # the undo below happens on the test's day
        store = OverrideStore(db, clock=clock)
        sync = GroupSync(db, Directory(SETTINGS, store), groups, "me")
        assert (await sync.sync_all(utc(2026, 3, 8, 15)))[0].status == "set"
        fake_slack.usergroups[GROUP] = ["U0ANNA", "U0INTRUDER"]  # someone edits the group by hand
        result = (await sync.sync_all(utc(2026, 3, 9, 14)))[0]
        assert result.status == "set" and fake_slack.usergroups[GROUP] == ["U0BORIS"]
        assert "drift: edited by hand since alp set it to <@U0ANNA>" in result.text
        # an override: Carla covers Boris from 15:00 UTC; its sync is one more, its undo one more
        cover = await store.add("devops", "U0CARLA", utc(2026, 3, 9, 15), utc(2026, 3, 9, 18), "U0BORIS")
        assert (await sync.sync_all(utc(2026, 3, 9, 15, 30)))[0].status == "set"
        assert fake_slack.usergroups[GROUP] == ["U0CARLA"]
        assert (await sync.sync_all(utc(2026, 3, 9, 15, 40)))[0].status == "skipped"
        clock.set(utc(2026, 3, 9, 15, 45))
        await store.cancel(cover.id, "U0BORIS")  # started: 15:00-15:45 stays Carla's, the rest is Boris's again
        assert (await sync.sync_all(utc(2026, 3, 9, 15, 50)))[0].status == "set"
        assert fake_slack.usergroups[GROUP] == ["U0BORIS"]
        assert updates(fake_slack) == ["U0ANNA", "U0BORIS", "U0CARLA", "U0BORIS"]
    finally:
        await db.close()


@pytest.mark.parametrize(
    "error,says",
    [
        ("missing_scope", "`usergroups:write` scope"),
        ("permission_denied", "Permissions, User Groups"),
        ("paid_teams_only", "paid Slack plan"),
    ],
)
async def test_a_workspace_that_refuses_group_writes_is_a_finding(tmp_path, fake_slack, error, says):
    groups = slack_groups(fake_slack)
    fake_slack.refuse_group_writes = error
    db = Database(f"sqlite:///{tmp_path}/s.db")
    try:
        result = (
            await GroupSync(db, Directory(SETTINGS, OverrideStore(db)), groups, "me").sync_all(utc(2026, 3, 8, 15))
        )[0]
        assert result.status == "refused" and result.text.startswith(error) and says in result.text
        assert fake_slack.usergroups[GROUP] == ["U0SOMEONE"]
        assert (await last_results(db))["devops"][1].startswith(f"refused: {error}")
    finally:
        await db.close()


async def test_a_gap_leaves_the_group_and_says_so(tmp_path, fake_slack):
    groups = slack_groups(fake_slack)
    settings = OncallSettings(
        schedules=[
            Schedule(
                name="devops",
                group=GROUP,
                layers=[Layer(users=["U0ANNA"], start=date(2026, 1, 1), days=["mon"])],
            )
        ]
    )
    db = Database(f"sqlite:///{tmp_path}/s.db")
    try:
        result = (
            await GroupSync(db, Directory(settings, OverrideStore(db)), groups, "me").sync_all(utc(2026, 3, 10, 12))
        )[0]
        assert result.status == "gap" and "nobody is on call since 2026-03-10 00:00 UTC" in result.text
        assert updates(fake_slack) == [] and fake_slack.usergroups[GROUP] == ["U0SOMEONE"]
    finally:
        await db.close()


async def test_a_handoff_job_wakes_only_the_leader_and_the_leader_syncs(tmp_path, fake_slack):
    groups = slack_groups(fake_slack)
    db = Database(f"sqlite:///{tmp_path}/s.db")
    store = OverrideStore(db)
    start = datetime.now(UTC)
    # Zoe covers for 1.5 s: the handoff back to the rotation is a job 1.5 s from now
    await store.add("devops", "U0ZOE", start - timedelta(minutes=5), start + timedelta(seconds=1.5), "U0ANNA")
    directory = Directory(SETTINGS, store)
    woke: dict[str, int] = {"leader": 0, "standby": 0}
    sync = GroupSync(db, directory, groups, "leader")

    async def leader_handoff() -> None:
        woke["leader"] += 1
        await sync.sync_all()

    async def standby_handoff() -> None:
        woke["standby"] += 1

    leader = HandoffScheduler(directory, lambda: True, leader_handoff, rebuild_s=3600)
    standby = HandoffScheduler(directory, lambda: False, standby_handoff, rebuild_s=3600)
    try:
        await leader.start()
        await standby.start()
        assert fake_slack.usergroups[GROUP] == ["U0ZOE"]  # at start: the catch-up sync
        assert (
            leader.next["devops"] == standby.next["devops"]
            and abs((leader.next["devops"] - start).total_seconds() - 1.5) < 0.01
        )
        for _ in range(60):  # the group set back, then the next handoff's job rebuilt (in that order)
            if fake_slack.usergroups[GROUP] != ["U0ZOE"] and leader.next["devops"] > start + timedelta(seconds=1.5):
                break
            await asyncio.sleep(0.1)
        assert woke == {"leader": 2, "standby": 0}  # at start, at the handoff; the standby never
        assert fake_slack.usergroups[GROUP] in (["U0ANNA"], ["U0BORIS"])  # back to the rotation
        assert datetime.now(UTC) - start < timedelta(seconds=5)
        assert leader.next["devops"] > start + timedelta(seconds=1.5)  # rebuilt: the next handoff
    finally:
        leader.stop()
        standby.stop()
        await db.close()


async def test_a_handoff_is_reported_once_in_the_channel_and_to_both_people(tmp_path, fake_slack):
    from bot.oncall.handoff import HandoffWork
    from bot.settings import Settings
    from escalation.config import EscalationSettings
    from escalation.model import Priority, build_ladder
    from escalation.state.store import Store

    groups = slack_groups(fake_slack)
    schedule = SETTINGS.schedules[0].model_copy(update={"channel": "C0HANDOFF"})
    settings = Settings(oncall=OncallSettings(schedules=[schedule], handoff_health=False))
    db = Database(f"sqlite:///{tmp_path}/s.db")
    try:
        store = OverrideStore(db)
        at = datetime.now(UTC)
        await store.add("devops", "U0NEW", at - timedelta(minutes=30), at + timedelta(hours=2), "U0LEAD")
        inc = await Store(db).create(
            Priority.P1,
            "queue backs up",
            "",
            [],
            "C0INC",
            "U0ANNA",
            build_ladder(Priority.P1, EscalationSettings()),
            "e1",
            [],
        )
        client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
        work = [
            HandoffWork(settings, GroupSync(db, Directory(settings.oncall, store), groups, f"r{i}"), client)
            for i in (1, 2)
        ]
        await asyncio.gather(*(w() for w in work))
        posts = [c for c in fake_slack.called("chat.postMessage") if "Handoff on `devops`" in c.args.get("text", "")]
        assert sorted(c.args["channel"] for c in posts)[0] == "C0HANDOFF" and len(posts) == 3  # channel + 2 DMs, once
        text = posts[0].args["text"]
        assert "<@U0NEW> takes over from" in text and f"{inc.ref} [P1] queue backs up (next: primary" in text
        assert "Overrides in this shift" in text and "<@U0NEW>" in text
        assert {c.args["channel"] for c in posts} == {
            "C0HANDOFF",
            "DU0NEW",
            f"D{text.split('takes over from <@')[1][:6]}",
        }
        assert fake_slack.usergroups[GROUP] == ["U0NEW"]
        assert await work[0].report(schedule) is None  # claimed: a later wake-up does not repeat it
    finally:
        await db.close()
