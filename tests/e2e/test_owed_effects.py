"""Issue #22, observations 2 and 3: side effects a state change owes (the announcement, the
recovery checklist) are recorded with the change and carried out even when the process that made
the change dies or Slack fails it; a retry finds what the first attempt did. Real alp-bot
processes, the real state store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import sqlite3
import time
import uuid

import pytest

from tests.support import alertmanager as am
from tests.support.bot_env import bot_env, opened_ref
from tests.support.escalation import announcement, pages, replies, slash
from tests.support.processes import BotProcess, kill, wait
from tests.support.slack_requests import command


@pytest.fixture(params=["sqlite", "postgresql"])
def state_url(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return request.getfixturevalue("pg_state")


def checklists(fake_slack, ref: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if f"{ref} " in c.args.get("text", "")
        and "checklist" in c.args.get("text", "").lower()
        and c.response.get("ok")
    ]


def top_level(fake_slack, ref: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if c.args.get("text", "").startswith(f"{ref} P") and not c.args.get("thread_ts") and c.response.get("ok")
    ]


def test_a_resolve_whose_checklist_post_fails_still_gets_its_checklist(testbed, fake_slack, platform, state_url):
    """The resolve is stored; Slack refuses the checklist twice: it is posted once, afterwards."""
    bot = BotProcess(bot_env(testbed, fake_slack, platform, state_url)).start()
    try:
        summary = f"owed list {uuid.uuid4().hex[:6]}"
        command(bot, fake_slack, f"incident open P2 {summary}")
        ref = opened_ref(fake_slack, summary)
        fake_slack.fail_text[f"{ref} "] = 2  # the next two posts naming the incident: the checklist
        command(bot, fake_slack, f"incident resolve {ref[4:]}")
        wait(lambda: len(checklists(fake_slack, ref)) == 1, 10)
        time.sleep(1)
        assert len(checklists(fake_slack, ref)) == 1
    finally:
        bot.stop()


@pytest.mark.slow
def test_killed_while_posting_the_announcement_the_next_leader_finds_it_and_pages_into_its_thread(
    testbed, fake_slack, platform, tmp_path
):
    """The announcement reached Slack but its answer never reached the bot, which is SIGKILLed:
    the restarted bot finds that message (posts no second one), records it, and the pages go into
    its thread. Before: the incident stayed 'announced' with no message, its pages top-level."""
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db", ALP_ESCALATION__P1_FIRST_PAGE_S="4")
    first = BotProcess(env).start()
    summary = f"announce kill {uuid.uuid4().hex[:6]}"
    fake_slack.delay_top_text[f"triggered: {summary}"] = 6  # the announcement is posted; its answer is late
    command(first, fake_slack, f"incident open P1 {summary}")
    ref = opened_ref(fake_slack, summary)
    kill(first)
    fake_slack.delay_top_text.clear()
    second = BotProcess(env).start()
    try:
        wait(lambda: len(pages(fake_slack, ref, "primary")) == 1, 15)
        posted = top_level(fake_slack, ref)
        assert len(posted) == 1, [c.args.get("text") for c in posted]
        assert pages(fake_slack, ref, "primary")[0].args.get("thread_ts") == posted[0].response["ts"]
        msg = announcement(fake_slack, ref)
        wait(lambda: any(c.args.get("ts") == msg.response["ts"] for c in fake_slack.called("chat.update")), 5)
    finally:
        second.stop()


def test_an_open_sent_again_opens_nothing_new_and_a_second_resolve_says_what_is_true(
    testbed, fake_slack, platform, state_url
):
    """The retry of an `/alp incident open` whose answer was lost (the same person, channel and
    words while it is open) finds the incident the first one opened; a second resolve says who
    resolved it and where its checklist is, instead of 'try again' or a bare 'already'."""
    bot = BotProcess(bot_env(testbed, fake_slack, platform, state_url)).start()
    try:
        summary = f"twice {uuid.uuid4().hex[:6]}"
        slash(bot, fake_slack, f"incident open P2 {summary}", "first")
        ref = opened_ref(fake_slack, summary)
        slash(bot, fake_slack, f"incident open P2   {summary} ", "retry")
        wait(lambda: replies(fake_slack, "retry"), 10)
        assert replies(fake_slack, "retry")[-1].startswith(f"{ref} is already open for this request"), replies(
            fake_slack, "retry"
        )
        assert len(top_level(fake_slack, ref)) == 1
        slash(bot, fake_slack, f"incident open P2 {summary}", "other", user="U0CAROL")  # someone else: a new one
        wait(lambda: len([c for c in fake_slack.called("chat.postMessage") if summary in c.args.get("text", "")]) == 2)
        slash(bot, fake_slack, f"incident resolve {ref[4:]}", "resolve")
        wait(lambda: len(checklists(fake_slack, ref)) == 1, 10)
        slash(bot, fake_slack, f"incident resolve {ref[4:]}", "again")
        wait(lambda: replies(fake_slack, "again"), 10)
        said = replies(fake_slack, "again")[-1]
        assert (
            said.startswith(f"{ref} is already resolved (by <@U0BOB> at ") and "checklist is in its thread" in said
        ), said
    finally:
        bot.stop()


@pytest.mark.slow
def test_an_alert_group_whose_bot_dies_while_announcing_its_incident_stays_linked_and_announced_once(
    testbed, fake_slack, platform, tmp_path
):
    """Issue #22, observation 3 (an alert storm with the leader SIGKILLed): the bot is killed while
    its group's message (the incident's announcement) is in flight. The next bot finds that
    message and records it (no second one), the group stays linked to its incident, and the
    group's "resolved" resolves it. Before: the group was left unlinked, the incident unresolved."""
    name = f"StormKill{uuid.uuid4().hex[:6]}"
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ALERTMANAGER__WEBHOOK_TOKEN=am.TOKEN,
        ALP_ALERTMANAGER__ROUTES=json.dumps(
            [{"match": {"alertname": name}, "check": "redis", "priority": "P2", "channel": "C0STORM"}]
        ),
        ALP_TIMEOUTS__PROBE_S="3",
        ALP_KAFKA_LAG__WATCH_INTERVAL_S="0",
    )
    alerts = [{"labels": {"alertname": name, "pod": "p1"}, "annotations": {"summary": "storm"}}]
    group_key = f'{{}}:{{alertname="{name}"}}'
    first = BotProcess(env).start()
    fake_slack.delay_top_text[name] = 8  # the group's message is posted; its answer is late
    am.post_webhook(first.url, json.dumps(am.payload(group_key, alerts)).encode(), am.TOKEN)

    def group_posts() -> list:  # type: ignore[type-arg]
        return [
            c
            for c in fake_slack.called("chat.postMessage")
            if name in c.args.get("text", "") and not c.args.get("thread_ts") and c.response.get("ok")
        ]

    wait(lambda: group_posts(), 20)
    kill(first)
    fake_slack.delay_top_text.clear()
    second = BotProcess(env).start()
    try:
        db = str(tmp_path / "state.db")

        def linked() -> tuple | None:  # type: ignore[type-arg]
            with sqlite3.connect(db) as conn:
                return conn.execute(
                    "SELECT g.incident_id, i.message_ts, g.message_ts FROM alp_alert_groups g "
                    "JOIN alp_incidents i ON i.id = g.incident_id WHERE g.group_key = ?",
                    (group_key,),
                ).fetchone()

        wait(lambda: (row := linked()) is not None and row[1] is not None, 15)
        incident_id, incident_ts, group_ts = linked()  # type: ignore[misc]
        assert incident_ts == group_ts == group_posts()[0].response["ts"]
        assert len(group_posts()) == 1
        am.post_webhook(second.url, json.dumps(am.payload(group_key, alerts, "resolved")).encode(), am.TOKEN)

        def status() -> str:
            with sqlite3.connect(db) as conn:
                return str(conn.execute("SELECT status FROM alp_incidents WHERE id = ?", (incident_id,)).fetchone()[0])

        wait(lambda: status() == "resolved", 15)
    finally:
        second.stop()


@pytest.mark.slow
def test_a_plain_group_message_whose_bot_dies_before_recording_it_is_found_again_not_posted_twice(
    testbed, fake_slack, platform, tmp_path
):
    """A group without an incident (its route has no priority): its message reaches Slack, the bot
    is SIGKILLed before recording it. Alertmanager sends the group again to the next bot, which
    finds that message (by the episode in its metadata) and updates it: one message per group.
    Before: the episode looked 'being started by another replica' and nobody updated the message
    for five minutes (and a bot taking over would have posted a second one)."""
    name = f"PlainKill{uuid.uuid4().hex[:6]}"
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ALERTMANAGER__WEBHOOK_TOKEN=am.TOKEN,
        ALP_ALERTMANAGER__ROUTES=json.dumps([{"match": {"alertname": name}, "check": "redis", "channel": "C0PLAIN"}]),
        ALP_TIMEOUTS__PROBE_S="3",
        ALP_KAFKA_LAG__WATCH_INTERVAL_S="0",
    )
    alerts = [{"labels": {"alertname": name, "pod": "p1"}, "annotations": {"summary": "plain"}}]
    group_key = f'{{}}:{{alertname="{name}"}}'

    def group_posts() -> list:  # type: ignore[type-arg]
        return [
            c
            for c in fake_slack.called("chat.postMessage")
            if name in c.args.get("text", "") and not c.args.get("thread_ts") and c.response.get("ok")
        ]

    first = BotProcess(env).start()
    fake_slack.delay_top_text[name] = 30  # the group's message is posted; its answer never comes in time
    am.post_webhook(first.url, json.dumps(am.payload(group_key, alerts)).encode(), am.TOKEN)
    wait(lambda: group_posts(), 20)
    kill(first)
    fake_slack.delay_top_text.clear()
    second = BotProcess(env).start()
    try:
        am.post_webhook(second.url, json.dumps(am.payload(group_key, alerts)).encode(), am.TOKEN)
        ts = group_posts()[0].response["ts"]
        wait(lambda: any(c.args.get("ts") == ts for c in fake_slack.called("chat.update")), 20)
        assert len(group_posts()) == 1, [c.args.get("text") for c in group_posts()]
        with sqlite3.connect(str(tmp_path / "state.db")) as conn:
            row = conn.execute("SELECT message_ts FROM alp_alert_groups WHERE group_key = ?", (group_key,)).fetchone()
        assert row == (ts,)
    finally:
        second.stop()
