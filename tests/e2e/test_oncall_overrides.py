"""Overrides from Slack and the terminal, as an on-call engineer uses them: a sick day across the
DST weekend previewed (hours and the switch in each person's zone), refused to the wrong person at
the click, applied by the right one, audited, undone; an undo that would leave a gap is refused."""

from __future__ import annotations

import json
import sqlite3
import uuid

import pytest

from tests.support.bot_env import SIGNING_SECRET
from tests.support.oncall import SCHEDULES, alp, oncall_env
from tests.support.processes import BotProcess
from tests.support.signing import block_action, signed_headers, slash_command
from tests.support.slack_requests import command, post

PLATFORM = {
    "name": "platform",
    "time_zone": "America/New_York",
    "group": "S0PLATFORM",
    "admins": ["U0LEAD"],
    "layers": [{"users": ["U0PLAT1", "U0PLAT2"], "turn": "1d", "handoff": "09:00", "start": "2026-01-01"}],
}
# New York springs forward on Sunday 14 March 2027: Saturday 09:00 EST -> Monday 09:00 EDT is 47 h
SICK = "--from 2027-03-13T09:00-05:00 --until 2027-03-15T09:00-04:00"


@pytest.fixture(scope="module")
def bot(fake_slack, tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("overrides") / "state.db"
    env = {**oncall_env(f"sqlite:///{path}", [SCHEDULES[0], PLATFORM]), "SLACK_API_URL": fake_slack.api_url}
    proc = BotProcess(env, tmp_path_factory.mktemp("log") / "bot.log").start()
    proc.state_path = path  # type: ignore[attr-defined]
    proc.env_used = env  # type: ignore[attr-defined]
    yield proc
    proc.stop()


def click(bot, fake_slack, action_id: str, value: str, user: str) -> str:  # type: ignore[no-untyped-def]
    rid = uuid.uuid4().hex
    body = block_action(action_id, value, user=user, response_url=fake_slack.response_url(rid))
    post(bot, body, signed_headers(SIGNING_SECRET, body))
    return str(fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == rid).args.get("text", ""))


def ask(bot, fake_slack, text: str, user: str):  # type: ignore[no-untyped-def]
    rid = uuid.uuid4().hex
    body = slash_command(text, fake_slack.response_url(rid), user=user)
    post(bot, body, signed_headers(SIGNING_SECRET, body))
    return fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == rid).args


def rows(bot, sql: str) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    with sqlite3.connect(bot.state_path) as db:
        return db.execute(sql).fetchall()


def test_a_sick_day_across_the_dst_weekend_previewed_refused_applied_and_undone(bot, fake_slack):
    fake_slack.users.update({"U0PLAT3": {"tz": "Europe/Berlin"}, "U0PLAT1": {"tz": "America/New_York"}})
    preview = ask(bot, fake_slack, f"oncall override platform <@U0PLAT3|dana> {SICK} --reason flu", "U0CAROL")
    text = preview["text"]
    assert "<@U0PLAT3> covers Sat 13 Mar 15:00-Mon 15 Mar 14:00 CET (47 h)" in text  # Dana's own zone
    # Saturday is U0PLAT1's turn, Sunday U0PLAT2's: each loses their day, in New York time
    assert "<@U0PLAT1> gives up 23 h: Sat 13 Mar 09:00 EST-Sun 14 Mar 09:00 EDT" in text  # the short night
    assert "<@U0PLAT2> gives up 24 h: Sun 14 Mar 09:00-Mon 15 Mar 09:00 EDT" in text
    assert "America/New_York springs forward 1 h" in text and "Europe/Berlin" not in text.split("springs")[0]
    buttons = [b for blk in preview["blocks"] if blk["type"] == "actions" for b in blk["elements"]]
    apply_token = next(b["value"] for b in buttons if b["action_id"] == "alp_oncall_apply")
    assert rows(bot, "SELECT count(*) FROM alp_oncall_overrides") == [(0,)]  # a preview stores nothing

    refused = click(bot, fake_slack, "alp_oncall_apply", apply_token, "U0MALLORY")
    assert "only the people involved" in refused and "<@U0PLAT1>, <@U0PLAT2>, <@U0PLAT3>" in refused
    assert rows(bot, "SELECT count(*) FROM alp_oncall_overrides") == [(0,)]
    assert click(bot, fake_slack, "alp_oncall_apply", apply_token[:-2] + "00", "U0PLAT3").count("signature") == 1

    applied = click(bot, fake_slack, "alp_oncall_apply", apply_token, "U0PLAT3")
    assert "override #1 applied by <@U0PLAT3>" in applied
    (start, end, user, by) = rows(bot, "SELECT start_at, end_at, user_id, created_by FROM alp_oncall_overrides")[0]
    assert (
        (user, by) == ("U0PLAT3", "U0PLAT3")
        and str(start).startswith("2027-03-13 14:00")
        and str(end).startswith("2027-03-15 13:00")
    )
    env = bot.env_used
    during = json.loads(alp(env, "--json", "oncall", "--schedule", "platform", "--at", "2027-03-14T07:30Z").stdout)
    assert during["data"]["schedules"][0]["on_call"] == ["U0PLAT3"]
    assert during["data"]["schedules"][0]["until"] == "2027-03-15T13:00:00+00:00"
    audit = alp(env, "audit", "10").stdout
    assert "U0MALLORY refused oncall-override" in audit and "U0PLAT3 outcome oncall-override" in audit

    assert "only the people involved" in click(bot, fake_slack, "alp_oncall_undo", "1", "U0MALLORY")
    assert "override #1 undone" in click(bot, fake_slack, "alp_oncall_undo", "1", "U0PLAT3")
    assert "already undone" in click(bot, fake_slack, "alp_oncall_undo", "1", "U0LEAD")
    after = json.loads(alp(env, "--json", "oncall", "--schedule", "platform", "--at", "2027-03-14T07:30Z").stdout)
    assert after["data"]["schedules"][0]["on_call"] == ["U0PLAT1"]
    assert rows(bot, "SELECT cancelled_by FROM alp_oncall_overrides") == [("U0PLAT3",)]  # kept, for the audit


def test_an_override_for_a_handle_finds_the_person(bot, fake_slack):
    fake_slack.users.update({"U0ERIN01": {"name": "erin", "tz": "Asia/Kolkata"}})
    preview = ask(bot, fake_slack, "oncall override platform @erin --for 3h", "U0LEAD")
    assert "<@U0ERIN01> covers" in preview["text"] and "IST" in preview["text"]
    unknown = ask(bot, fake_slack, "oncall override platform @nobodyhere --for 3h", "U0LEAD")
    assert "no Slack user `@nobodyhere`" in unknown["text"]


def test_take_the_pager_covers_the_asker_now_and_the_group_follows(bot, fake_slack):
    fake_slack.usergroups["S0PLATFORM"] = ["U0PLAT1"]
    preview = ask(bot, fake_slack, "oncall take platform --for 2h", "U0PLAT9")
    assert "<@U0PLAT9> covers" in preview["text"] and "(2 h)" in preview["text"]
    token = next(
        b["value"]
        for blk in preview["blocks"]
        if blk["type"] == "actions"
        for b in blk["elements"]
        if b["action_id"] == "alp_oncall_apply"
    )
    assert "applied by <@U0PLAT9>" in click(bot, fake_slack, "alp_oncall_apply", token, "U0PLAT9")
    fake_slack.wait_for(
        "usergroups.users.update",
        lambda c: c.args.get("usergroup") == "S0PLATFORM" and c.args.get("users") == "U0PLAT9",
    )


def test_an_undo_of_an_override_that_filled_the_schedules_own_gap_is_done_and_says_the_gap(bot, fake_slack):
    """The schedule had nobody before the override: undoing it is not refused (README: gaps there with
    or without it do not count) and the reply says nobody is on call again."""
    preview = ask(bot, fake_slack, "oncall take devops --for 1h", "U0DEVA")  # devops has nobody on call now
    assert "It fills 1 h nobody covered" in preview["text"]
    token = next(
        b["value"]
        for blk in preview["blocks"]
        if blk["type"] == "actions"
        for b in blk["elements"]
        if b["action_id"] == "alp_oncall_apply"
    )
    applied = click(bot, fake_slack, "alp_oncall_apply", token, "U0DEVA")
    n = applied.split("override #")[1].split()[0]
    undone = click(bot, fake_slack, "alp_oncall_undo", n, "U0DEVA")
    assert f"override #{n} undone" in undone and "nobody is on call" in undone, undone
    assert "kept" not in undone, undone  # seconds of it: a plain undo (no row, no handoff DM)


@pytest.mark.parametrize(
    "words,says",
    [
        ("oncall override platform U0X", "needs its end"),
        ("oncall override nosuch U0X --for 1h", "no on-call schedule `nosuch`"),
        ("oncall override platform U0X --from 2020-01-01T00:00Z --for 1h", "ended already"),
        ("oncall override platform U0X --for 200d", "at most 90 days"),
        ("oncall overide platform", "Did you mean `override`"),
        ("oncall take platform --for 8 hours", "not a duration"),
    ],
)
def test_override_mistakes_are_clear_answers(bot, fake_slack, words, says):
    _, body, _ = command(bot, fake_slack, words)
    reply = body if says in body else str(ask(bot, fake_slack, words, "U0CAROL").get("text"))
    assert says in reply and "Traceback" not in reply


def test_the_terminal_previews_and_applies_with_yes(tmp_path):
    env = {**oncall_env(f"sqlite:///{tmp_path}/s.db", [SCHEDULES[0], PLATFORM]), "USER": "carol"}
    shown = alp(env, "oncall", "override", "platform", "U0PLAT3", *SICK.split())
    assert shown.returncode == 0 and "a preview: add --yes" in shown.stdout and "springs forward" in shown.stdout
    done = alp(env, "oncall", "override", "platform", "U0PLAT3", *SICK.split(), "--yes")
    assert done.returncode == 0 and "applied: override #1" in done.stdout
    assert "override #1 undone" in alp(env, "oncall", "undo", "1").stdout
    changes = json.loads(alp(env, "--json", "changes", "--since", "10m").stdout)["data"]["changes"]
    ours = [c for c in changes if c["object"] == "schedule/platform"]
    assert [c["by"] for c in ours] == ["carol (terminal)", "carol (terminal)"], ours  # said once, not twice


def test_a_swap_is_asked_in_the_channel_and_taken_by_a_teammate_with_a_button(bot, fake_slack):
    on_call = json.loads(alp(bot.env_used, "--json", "oncall", "--schedule", "platform").stdout)["data"]["schedules"][0]
    asker = on_call["on_call"][0]
    asked = ask(bot, fake_slack, "oncall swap platform --for 2h --reason dentist", asker)
    assert f"<@{asker}> asks for cover on `platform`" in asked["text"], asked["text"]
    assert asked.get("response_type") == "in_channel"
    token = next(
        b["value"]
        for blk in asked["blocks"]
        if blk["type"] == "actions"
        for b in blk["elements"]
        if b["action_id"] == "alp_oncall_take"
    )
    assert "someone else than who asked" in click(bot, fake_slack, "alp_oncall_take", token, asker)
    taken = click(bot, fake_slack, "alp_oncall_take", token, "U0HELPER")
    assert f"<@U0HELPER> took <@{asker}>'s `platform` hours" in taken
    now = json.loads(alp(bot.env_used, "--json", "oncall", "--schedule", "platform").stdout)["data"]["schedules"][0]
    assert now["on_call"] == ["U0HELPER"]
    assert "no longer on call then" in click(bot, fake_slack, "alp_oncall_take", token, "U0LATE")
    nobody = ask(bot, fake_slack, "oncall swap platform --for 2h", "U0NOTONCALL")
    assert "you are not on call on `platform` then" in nobody["text"]


def test_an_override_from_the_terminal_moves_the_group_promptly(bot, fake_slack):
    """`alp oncall override … --yes` is another process: the bot's leader sees it on its next
    reconcile pass (every leader_poll_s), not at the handoff jobs' minute rebuild."""
    fake_slack.usergroups["S0PLATFORM"] = ["U0PLAT1"]
    done = alp(bot.env_used, "oncall", "override", "platform", "U0TERM7", "--for", "1h", "--yes")
    assert done.returncode == 0, done.stderr
    fake_slack.wait_for(
        "usergroups.users.update",
        lambda c: c.args.get("usergroup") == "S0PLATFORM" and c.args.get("users") == "U0TERM7",
        timeout=10,  # the rebuild every 60 s would be too late
    )
