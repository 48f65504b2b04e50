"""Issue #11 with real alp-bot processes: no lost page, no page after acknowledgement, no double
page, a leader that can be replaced. Each test names the observation it reproduces."""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid

import psycopg
import pytest

from tests.support.bot_env import SIGNING_SECRET, bot_env, opened_ref
from tests.support.escalation import leader_pid, manager_pages, pages
from tests.support.processes import BotProcess, kill, wait
from tests.support.signing import block_action, signed_headers
from tests.support.slack_requests import command, post


def click(bot: BotProcess, body: str) -> None:
    post(bot, body, signed_headers(SIGNING_SECRET, body))


def announcement(fake_slack, ref: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.postMessage", lambda c: f"{ref} " in c.args.get("text", "") and not c.args.get("thread_ts")
    )


def button_value(msg, action_id: str) -> str:  # type: ignore[no-untyped-def]
    for block in msg.args["blocks"]:
        for el in block.get("elements", []):
            if el.get("action_id") == action_id:
                return str(el["value"])
    raise AssertionError(f"no {action_id} button")


def open_incident(bot: BotProcess, fake_slack, priority: str, tag: str) -> str:  # type: ignore[no-untyped-def]
    summary = f"{tag} {uuid.uuid4().hex[:6]}"
    command(bot, fake_slack, f"incident open {priority} {summary}")
    return opened_ref(fake_slack, summary)


def timeline_texts(dsn: str, ref: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT text FROM alp_timeline WHERE incident_id = %s ORDER BY id", (int(ref[4:]),))
        return [r[0] for r in rows]


@pytest.mark.slow
def test_sigkill_as_a_burst_of_steps_falls_due_loses_no_ladder(testbed, fake_slack, platform, tmp_path):
    """Observation 1: killed while a burst of steps is being taken, every ladder still pages, once."""
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db", ALP_ESCALATION__P1_FIRST_PAGE_S="3")
    first = BotProcess(env).start()
    refs = [open_incident(first, fake_slack, "P1", f"burst {i}") for i in range(15)]
    wait(lambda: any(pages(fake_slack, r, "primary") for r in refs), 10)
    time.sleep(0.05)
    kill(first)
    second = BotProcess(env).start()
    try:
        wait(lambda: all(pages(fake_slack, r, "primary") for r in refs), 30)
        time.sleep(2.5)  # past an interrupted attempt's lease: a retry would show now
        assert {r: len(pages(fake_slack, r, "primary")) for r in refs} == dict.fromkeys(refs, 1)
    finally:
        second.stop()


def test_a_page_failing_when_the_bot_dies_is_sent_after_the_restart(testbed, fake_slack, platform, tmp_path):
    """Observation 2: the manager's webhook fails, the bot is killed in the retry backoff."""
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ESCALATION__STEP_WAIT_S="1",
        ALP_ESCALATION__PAGE_BACKOFF_S="3",
    )
    first = BotProcess(env).start()
    platform.pager_failures = 1
    try:
        ref = open_incident(first, fake_slack, "P0", "backoff kill")
        wait(lambda: platform.pager_failures == 0, 10)
        kill(first)
        second = BotProcess(env).start()
        try:
            wait(lambda: len(manager_pages(platform, ref)) == 1, 10)
            time.sleep(1)
            assert len(manager_pages(platform, ref)) == 1
        finally:
            second.stop()
    finally:
        platform.pager_failures = 0


@pytest.mark.slow
def test_killed_right_after_the_page_is_posted_it_is_not_posted_again(testbed, fake_slack, platform, tmp_path):
    """Observation 3: killed after Slack took the primary's page, restarted 6 s later: posted once."""
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db")
    first = BotProcess(env).start()
    summary = f"posted kill {uuid.uuid4().hex[:6]}"
    fake_slack.delay_text[f"{summary} (primary)"] = 5  # posted, the answer never reaches the bot
    command(first, fake_slack, f"incident open P0 {summary}")
    ref = opened_ref(fake_slack, summary)
    wait(lambda: len(pages(fake_slack, ref, "primary")) == 1, 10)
    kill(first)
    fake_slack.delay_text.clear()
    time.sleep(6)
    second = BotProcess(env).start()
    try:
        wait(lambda: len(pages(fake_slack, ref, "secondary")) == 1, 10)
        assert len(pages(fake_slack, ref, "primary")) == 1
    finally:
        second.stop()


def test_a_failing_page_during_a_connection_cut_is_sent_once(testbed, fake_slack, platform, pg_state):
    """Observation 3: the secondary's page keeps failing while the bot's database backends are cut."""
    env = bot_env(testbed, fake_slack, platform, pg_state, ALP_ESCALATION__STEP_WAIT_S="1")
    bot = BotProcess(env).start()
    try:
        summary = f"cut {uuid.uuid4().hex[:6]}"
        fake_slack.fail_text[f"{summary} (secondary)"] = 6
        command(bot, fake_slack, f"incident open P0 {summary}")
        ref = opened_ref(fake_slack, summary)
        wait(lambda: fake_slack.fail_text[f"{summary} (secondary)"] <= 4, 10)
        with psycopg.connect(pg_state, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
        wait(lambda: len(pages(fake_slack, ref, "secondary")) == 1, 15)
        time.sleep(2.5)
        assert len(pages(fake_slack, ref, "secondary")) == 1
        assert sum(t.startswith("paged secondary") for t in timeline_texts(pg_state, ref)) == 1
    finally:
        bot.stop()


def test_no_page_after_acknowledgement_while_a_retry_waits(testbed, fake_slack, platform, tmp_path):
    """Observation 4: the manager's webhook fails once (backoff 3 s); acknowledged 1 s later."""
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ESCALATION__STEP_WAIT_S="1",
        ALP_ESCALATION__PAGE_BACKOFF_S="3",
    )
    bot = BotProcess(env).start()
    platform.pager_failures = 1
    try:
        summary = f"ack in backoff {uuid.uuid4().hex[:6]}"
        command(bot, fake_slack, f"incident open P0 {summary}")
        ref = opened_ref(fake_slack, summary)
        wait(lambda: platform.pager_failures == 0, 10)
        time.sleep(1)
        command(bot, fake_slack, f"incident ack {ref[4:]}")
        time.sleep(4)
        assert manager_pages(platform, ref) == []
    finally:
        platform.pager_failures = 0
        bot.stop()


def test_no_slack_page_after_acknowledgement_while_a_retry_waits(testbed, fake_slack, platform, tmp_path):
    """Observation 4, Slack: the secondary's page fails once; acknowledged before the retry."""
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ESCALATION__STEP_WAIT_S="1",
        ALP_ESCALATION__PAGE_BACKOFF_S="3",
    )
    bot = BotProcess(env).start()
    try:
        summary = f"slack ack {uuid.uuid4().hex[:6]}"
        fake_slack.fail_text[f"{summary} (secondary)"] = 1
        command(bot, fake_slack, f"incident open P0 {summary}")
        ref = opened_ref(fake_slack, summary)
        wait(lambda: fake_slack.fail_text[f"{summary} (secondary)"] == 0, 10)
        command(bot, fake_slack, f"incident ack {ref[4:]}")
        time.sleep(4)
        assert pages(fake_slack, ref, "secondary") == []
    finally:
        bot.stop()


def test_escalate_now_clicked_twice_at_once_moves_one_rung(testbed, fake_slack, platform, tmp_path):
    """Observation 5: two clicks on the same message's Escalate now."""
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db")
    bot = BotProcess(env).start()
    try:
        ref = open_incident(bot, fake_slack, "P2", "double click")  # first page in an hour
        value = button_value(announcement(fake_slack, ref), "incident_escalate")
        clicks = [
            threading.Thread(target=click, args=(bot, block_action("incident_escalate", value, user=u)))
            for u in ("U0ALICE", "U0BOB")
        ]
        for t in clicks:
            t.start()
        for t in clicks:
            t.join()
        wait(lambda: len(pages(fake_slack, ref, "primary")) == 1, 10)
        time.sleep(1)
        assert len(pages(fake_slack, ref, "primary")) == 1 and pages(fake_slack, ref, "secondary") == []
    finally:
        bot.stop()


@pytest.mark.slow
def test_ack_and_resolve_on_different_replicas_end_in_one_state(testbed, fake_slack, platform, pg_state):
    """Observation 6: three replicas, ack to one and resolve to another at the same instant."""
    env = bot_env(testbed, fake_slack, platform, pg_state)
    bots = [BotProcess(env).start() for _ in range(3)]
    try:
        for i in range(6):
            ref = open_incident(bots[0], fake_slack, "P2", f"race {i}")
            msg = announcement(fake_slack, ref)
            a, b = bots[i % 3], bots[(i + 1) % 3]
            threads = [
                threading.Thread(target=command, args=(a, fake_slack, f"incident ack {ref[4:]}")),
                threading.Thread(target=command, args=(b, fake_slack, f"incident resolve {ref[4:]}")),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            checklist = lambda ref=ref: [  # noqa: E731
                c
                for c in fake_slack.called("chat.postMessage")
                if f"{ref} " in c.args.get("text", "") and "checklist" in c.args.get("text", "").lower()
            ]
            wait(lambda checklist=checklist: len(checklist()) >= 1, 10)
            time.sleep(0.8)
            assert len(checklist()) == 1
            updates = [c for c in fake_slack.called("chat.update") if c.args.get("ts") == msg.response["ts"]]
            assert updates and "resolved" in updates[-1].args["text"], [u.args["text"] for u in updates]
            with psycopg.connect(pg_state) as conn:
                assert conn.execute("SELECT status FROM alp_incidents WHERE id = %s", (int(ref[4:]),)).fetchone() == (
                    "resolved",
                )
    finally:
        for bot in bots:
            bot.stop()


def test_a_page_failing_longer_than_its_retries_is_still_sent(testbed, fake_slack, platform, tmp_path):
    """Observation 7: the manager's webhook fails six times in a row (page_retries=3)."""
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        f"sqlite:///{tmp_path}/state.db",
        ALP_ESCALATION__STEP_WAIT_S="1",
        ALP_ESCALATION__PAGE_RETRIES="3",
        ALP_ESCALATION__PAGE_BACKOFF_MAX_S="0.5",
    )
    bot = BotProcess(env).start()
    platform.pager_failures = 6
    try:
        ref = open_incident(bot, fake_slack, "P0", "outage")
        wait(lambda: len(manager_pages(platform, ref)) == 1, 15)
        said = [c.args.get("text", "") for c in fake_slack.called("chat.postMessage")]
        assert any("page to manager failing since" in t for t in said)
        time.sleep(1)
        assert len(manager_pages(platform, ref)) == 1
    finally:
        platform.pager_failures = 0
        bot.stop()


@pytest.mark.slow
def test_a_paused_leader_is_replaced_and_does_nothing_when_it_wakes(testbed, fake_slack, platform, pg_state):
    """Observation 7: SIGSTOP the leader; the follower takes the lease and runs the ladder on time."""
    env = bot_env(testbed, fake_slack, platform, pg_state)
    a, b = BotProcess(env).start(), BotProcess(env).start()
    try:
        wait(lambda: leader_pid(pg_state) in (a.proc.pid, b.proc.pid), 10)  # type: ignore[union-attr]
        leader, follower = (a, b) if leader_pid(pg_state) == a.proc.pid else (b, a)  # type: ignore[union-attr]
        ref = open_incident(follower, fake_slack, "P0", "paused leader")
        wait(lambda: len(pages(fake_slack, ref, "primary")) == 1, 5)
        leader.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        try:
            wait(lambda: len(pages(fake_slack, ref, "secondary")) == 1, 3 + 2 + 3)  # due in 3 s, lease 2 s
            assert leader_pid(pg_state) == follower.proc.pid  # type: ignore[union-attr]
        finally:
            leader.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
        wait(lambda: len(manager_pages(platform, ref)) == 1, 8)
        time.sleep(1.5)
        assert len(pages(fake_slack, ref, "primary")) == 1 and len(pages(fake_slack, ref, "secondary")) == 1
        assert len(manager_pages(platform, ref)) == 1
    finally:
        a.stop()
        b.stop()


@pytest.mark.slow
def test_randomized_kills_deliver_every_step_exactly_once(testbed, fake_slack, platform, tmp_path):
    """20 runs: open a P0, SIGKILL the bot at a random moment of the ladder (of this incident and of
    those still running), restart it. Every step is paged exactly once; the manager's pager events
    may repeat only with the same dedup key, which the pager collapses into one alert."""
    rng = random.Random(11)
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db", ALP_ESCALATION__STEP_WAIT_S="1")
    bot = BotProcess(env).start()
    refs = []
    try:
        for run in range(20):
            refs.append(open_incident(bot, fake_slack, "P0", f"random {run}"))
            time.sleep(rng.uniform(0, 2.5))
            kill(bot)
            bot = BotProcess(env).start()
        wait(lambda: all(manager_pages(platform, r) for r in refs), 20)
        time.sleep(2.5)  # past an interrupted attempt's lease: a repeat would show now
    finally:
        bot.stop()
    counts = {
        r: (
            len(pages(fake_slack, r, "primary")),
            len(pages(fake_slack, r, "secondary")),
            len({e["dedup_key"] for e in manager_pages(platform, r)}),
        )
        for r in refs
    }
    assert counts == dict.fromkeys(refs, (1, 1, 1))
