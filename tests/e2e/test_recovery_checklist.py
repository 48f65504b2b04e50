"""The recovery checklist of an alert-born incident, judged by alp through the bed's real Prometheus
and Alertmanager: "Check monitoring dashboards" from the alert's own expression, "Clear any alerts"
from Alertmanager, on the checklist message and as the resolve's re-check verdict; ticked by alp
only when the evidence says done.

- resolved by hand while the alert still fires: both items "not done", saying why, left unticked;
- a real fault (the stand-in makes auth-service slow; the bed's rule HighResponseTime fires through
  the real Alertmanager into the bot, routed with a priority so it opens an incident) removed: the
  group's message says "back under the threshold since HH:MM", Alertmanager resolves the group, the
  incident resolves itself and its checklist says both items done (ticked by alp), with that line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from scripts.world.client import StandIns
from tests.support import alertmanager as am
from tests.support.alertmanager import ROUTES, alp_cli, group_posts, incidents, updates_of
from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET
from tests.support.processes import BotProcess, wait_until
from tests.support.signing import block_action, signed_headers
from tests.support.slack_requests import blocks_text, post

CHANNEL = "C0RECOVERY"
RULE = "HighResponseTime"
# the bed's rule opens a P2 incident here (the other tests' routes as they are)
RECOVERY_ROUTES = [{"match": {"alertname": RULE}, "check": "latency", "priority": "P2", "channel": CHANNEL}, *ROUTES]


@pytest.fixture(scope="module")
def recovery_bot(testbed, fake_slack, platform, kube_admin, tmp_path_factory) -> Iterator[BotProcess]:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_PROMETHEUS__URL"):
        pytest.fail("no Prometheus in the test bed: run `scripts/testbed up`")
    tmp = tmp_path_factory.mktemp("recovery")
    proc = BotProcess(
        {
            **testbed,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "ALP_TIMEOUTS__PROBE_S": "3",
            **ESCALATION_ENV,
            **ACTIONS_ENV,
            "ALP_STATE_URL": f"sqlite:///{tmp}/alp-state.db",
            "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
            "ALP_ALERTMANAGER__ROUTES": json.dumps(RECOVERY_ROUTES),
            "ALP_ALERTMANAGER__CHANNEL": "C0ALERTDEFAULT",
            "ALP_ALERTMANAGER__POST_RATE_PER_S": "10",
            "ALP_ALERTMANAGER__POST_BURST": "5",
            "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        },
        log_path=tmp / "bot.log",
    ).start()
    am.point_at(testbed["ALP_ALERTMANAGER__URL"], testbed["ALP_TESTBED_ALERTMANAGER_CONFIG"], proc.url)
    yield proc
    proc.stop()


@pytest.fixture
def standins(testbed) -> Iterator[StandIns]:  # type: ignore[no-untyped-def]
    s = StandIns.from_env(testbed)
    yield s
    s.reset_traffic()


def checklist_of(fake_slack, ref: str) -> Any:  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("text") == f"{ref} resolved: recovery checklist"
    )


def ticked(blocks: list[dict[str, Any]]) -> set[str]:
    return {
        o["value"]
        for b in blocks
        for e in b.get("elements", [])
        if e.get("action_id") == "incident_checklist"
        for o in e.get("initial_options") or []
    }


def test_resolved_while_the_alert_fires_leaves_both_items_not_done_saying_why(  # type: ignore[no-untyped-def]
    recovery_bot, fake_slack, testbed, unique
) -> None:
    name = f"RedisRecovery{unique}"  # routed to the redis check with P2: an incident
    expr = "sum(up) > 0"  # holds while Prometheus scrapes the stand-in
    url = f"{testbed['ALP_PROMETHEUS__URL']}/graph?g0.expr={quote(expr)}&g0.tab=1"
    a = {"labels": {"alertname": name, "group": unique}, "generatorURL": url}
    am.fire(testbed["ALP_ALERTMANAGER__URL"], [a])
    inc = wait_until(lambda: [i for i in incidents(recovery_bot) if name in i["summary"]], 30)[0]
    body = block_action("incident_resolve", str(inc["id"]), user="U0ALICE", channel="C0ALERTS")
    post(recovery_bot, body, signed_headers(SIGNING_SECRET, body))
    ref = f"INC-{inc['id']}"
    checklist = checklist_of(fake_slack, ref)
    text = blocks_text(checklist.args["blocks"])
    assert re.search(r"\*Judged by alp\* \(read at \d\d:\d\d:\d\dZ\)", text), text
    assert re.search(
        rf"Check monitoring dashboards\*: not done: alert expression {name}\{{group={unique}\}}: still firing: 1 now, "
        r"threshold > 0",
        text,
    ), text
    assert re.search(rf"Clear any alerts\*: not done: {name}\{{group={unique}\}}: still firing in Alertmanager", text)
    assert ticked(checklist.args["blocks"]) == set()
    timeline = alp_cli(recovery_bot, "incident", "show", str(inc["id"]))
    assert "check recovery: WARNING (on resolve)" in timeline, timeline
    am.resolve(testbed["ALP_ALERTMANAGER__URL"], [a])


def test_a_real_fault_removed_resolves_its_incident_with_the_recovery_judged_done(  # type: ignore[no-untyped-def]
    recovery_bot, fake_slack, standins
) -> None:
    standins.set_traffic("auth-service", rps=20, latency_ms=900, error_ratio=0)
    msg = wait_until(lambda: group_posts(fake_slack, RULE, CHANNEL), timeout=120, interval=0.5)[0]
    assert "service=auth-service}: still firing" in blocks_text(msg.args["blocks"])
    inc = wait_until(lambda: [i for i in incidents(recovery_bot) if RULE in i["summary"]], 30)[0]
    ref = f"INC-{inc['id']}"

    standins.reset_traffic()  # the fault removed: p95 falls, Prometheus resolves, Alertmanager notifies
    ts = msg.response["ts"]

    def back_under() -> str | None:
        for u in updates_of(fake_slack, ts):
            t = blocks_text(u.args["blocks"])
            if "back under the threshold since" in t:
                return t
        return None

    line = wait_until(back_under, timeout=150, interval=0.5)
    assert re.search(r"auth-service\}: back under the threshold since \d\d:\d\d UTC", line), line
    wait_until(lambda: any(i["id"] == inc["id"] and i["status"] == "resolved" for i in incidents(recovery_bot)), 120)
    checklist = checklist_of(fake_slack, ref)
    text = blocks_text(checklist.args["blocks"])
    assert re.search(
        r"Check monitoring dashboards\*: done \(ticked by alp\): alert expression HighResponseTime\{service=auth-service\}: "
        r"back under the threshold since \d\d:\d\d UTC \((under a minute|\d+ min)\): \d+ms now, threshold > 500ms",
        text,
    ), text
    assert (
        "Clear any alerts*: done (ticked by alp): none of the incident's 1 alert(s) is firing in Alertmanager" in text
    )
    assert ticked(checklist.args["blocks"]) == {"Check monitoring dashboards", "Clear any alerts"}
    timeline = alp_cli(recovery_bot, "incident", "show", str(inc["id"]))
    assert "check recovery: OK (on resolve)" in timeline and "ticked: Clear any alerts" in timeline, timeline
