"""Alerts in, diagnosis out: the test bed's real Alertmanager notifying a running alp-bot.

Alerts are posted to Alertmanager's API as Prometheus does; grouping, repeats and resolution
are Alertmanager's own. Crafted payloads go straight to the bot for the error cases.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tests.support import alertmanager as am
from tests.support.alertmanager import ROUTES, alp_cli, group_posts, incidents
from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET
from tests.support.processes import BotProcess, wait_until
from tests.support.signing import block_action, signed_headers
from tests.support.slack_requests import blocks_text, command, get, post


@pytest.fixture(scope="module")
def am_bot(testbed, fake_slack, platform, kube_admin, tmp_path_factory) -> Iterator[BotProcess]:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_ALERTMANAGER__URL"):
        pytest.fail("no Alertmanager in the test bed: run `scripts/testbed up`")
    state = f"sqlite:///{tmp_path_factory.mktemp('am-state')}/alp-state.db"
    proc = BotProcess(
        {
            **testbed,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "ALP_TIMEOUTS__PROBE_S": "3",
            **ESCALATION_ENV,
            **ACTIONS_ENV,
            "ALP_STATE_URL": state,
            "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
            "ALP_ALERTMANAGER__ROUTES": json.dumps(ROUTES),
            "ALP_ALERTMANAGER__CHANNEL": "C0ALERTDEFAULT",
            "ALP_ALERTMANAGER__POST_RATE_PER_S": "10",
            "ALP_ALERTMANAGER__POST_BURST": "5",
            "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        }
    ).start()
    am.point_at(testbed["ALP_ALERTMANAGER__URL"], testbed["ALP_TESTBED_ALERTMANAGER_CONFIG"], proc.url)
    yield proc
    proc.stop()


@pytest.fixture
def am_url(testbed) -> str:  # type: ignore[no-untyped-def]
    return str(testbed["ALP_ALERTMANAGER__URL"])


def updates_of(fake_slack, ts: str) -> list:  # type: ignore[no-untyped-def]
    return [c for c in fake_slack.called("chat.update") if c.args.get("ts") == ts]


def click(bot: BotProcess, body: str):  # type: ignore[no-untyped-def]
    return post(bot, body, signed_headers(SIGNING_SECRET, body))


def button(blocks: list[dict], action_id: str) -> str:
    for b in blocks:
        for e in b.get("elements", []):
            if e.get("action_id") == action_id:
                return str(e["value"])
    raise AssertionError(f"no {action_id} button in {blocks_text(blocks)[:500]}")


# ---------------------------------------------------------------- the contract's error answers
def test_intake_is_off_without_a_token(bot):  # type: ignore[no-untyped-def]
    status, body = am.post_webhook(
        bot.url, json.dumps(am.payload("{}:{a}", [{"labels": {"alertname": "X"}}])).encode(), "t"
    )
    assert status == 404 and "ALP_ALERTMANAGER__WEBHOOK_TOKEN" in body["error"]


def test_crafted_payloads_get_clear_answers_and_change_nothing(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    name = f"Redis{unique}"
    good = json.dumps(am.payload(f'{{}}:{{alertname="{name}"}}', [{"labels": {"alertname": name}}])).encode()
    assert am.post_webhook(am_bot.url, good, None)[0] == 401
    assert am.post_webhook(am_bot.url, good, "wrong-token")[0] == 401
    status, body = am.post_webhook(am_bot.url, b"{not json", am.TOKEN)
    assert status == 400 and body["reason"]
    no_key = am.payload("k", [{"labels": {"alertname": name}}])
    del no_key["groupKey"]
    status, body = am.post_webhook(am_bot.url, json.dumps(no_key).encode(), am.TOKEN)
    assert status == 400 and "groupKey" in body["reason"]
    old = {**am.payload("k", [{"labels": {"alertname": name}}]), "version": "3"}
    status, body = am.post_webhook(am_bot.url, json.dumps(old).encode(), am.TOKEN)
    assert status == 400 and "version" in body["reason"]
    empty = {**am.payload("k", [{"labels": {"alertname": name}}]), "alerts": []}
    assert am.post_webhook(am_bot.url, json.dumps(empty).encode(), am.TOKEN)[0] == 400
    time.sleep(1)
    assert not [c for c in fake_slack.calls if name in json.dumps(c.args)]
    assert not [i for i in incidents(am_bot) if name in i["summary"]]


def test_an_alert_no_route_matches_is_posted_without_a_check(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    name = f"Unrouted{unique}"
    body = am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name, "severity": "page"}}])
    body["truncatedAlerts"] = 7
    status, answer = am.post_webhook(am_bot.url, json.dumps(body).encode(), am.TOKEN)
    assert status == 200 and answer["alerts"] == 1
    msg = wait_until(lambda: group_posts(fake_slack, name, "C0ALERTDEFAULT"))[0]
    assert "No route matched" in blocks_text(msg.args["blocks"])
    assert "7 more that Alertmanager left out" in blocks_text(msg.args["blocks"])  # nothing lost silently
    assert not [i for i in incidents(am_bot) if name in i["summary"]]


def test_label_values_are_validated_like_any_input(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    name = f"Lag{unique}"
    labels = {"alertname": name, "consumergroup": "user-service", "samples": "lots; rm -rf /"}
    body = am.payload(f"{{}}:{{alertname={name}}}", [{"labels": labels}])
    assert am.post_webhook(am_bot.url, json.dumps(body).encode(), am.TOKEN)[0] == 200
    msg = wait_until(lambda: group_posts(fake_slack, name))[0]
    text = blocks_text(msg.args["blocks"])
    assert "--samples" in text and "is not valid" in text and "did not run" in text
    headers = [b["text"]["text"] for b in msg.args["blocks"] if b["type"] == "header"]
    assert not [h for h in headers if h.startswith("kafka-lag")]  # no report: the check did not run
    _, before = get(am_bot, "/metrics")
    joined = {**labels, "pod": "p2"}
    body = am.payload(f"{{}}:{{alertname={name}}}", [{"labels": labels}, {"labels": joined}])
    assert am.post_webhook(am_bot.url, json.dumps(body).encode(), am.TOKEN)[0] == 200
    ts = msg.response["ts"]
    update = wait_until(lambda: [u for u in updates_of(fake_slack, ts) if "2 alerts" in u.args.get("text", "")])[-1]
    assert "is not valid" in blocks_text(update.args["blocks"])  # an alert joining does not run it either
    _, after = get(am_bot, "/metrics")
    assert _metric(after, 'alp_alert_checks_total{run="ran",target="kafka-lag"}') == _metric(
        before, 'alp_alert_checks_total{run="ran",target="kafka-lag"}'
    )


def test_a_group_slack_refused_is_posted_at_the_next_notification(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    name = f"RedisRecover{unique}"
    body = json.dumps(am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name}}])).encode()
    fake_slack.not_in_channel.add("C0ALERTS")
    assert am.post_webhook(am_bot.url, body, am.TOKEN)[0] == 200
    wait_until(lambda: [i for i in incidents(am_bot) if name in i["summary"]])
    time.sleep(1)
    assert not group_posts(fake_slack, name)
    fake_slack.not_in_channel.discard("C0ALERTS")
    assert am.post_webhook(am_bot.url, body, am.TOKEN)[0] == 200  # Alertmanager's repeat
    msg = wait_until(lambda: group_posts(fake_slack, name))[0]
    assert "redis: " in blocks_text(msg.args["blocks"]) and "INC-" in blocks_text(msg.args["blocks"])
    assert len([i for i in incidents(am_bot) if name in i["summary"]]) == 1


# ---------------------------------------------------------------- through the real Alertmanager
def test_one_message_and_one_incident_per_group_resolved_and_reopened(am_bot, fake_slack, am_url, unique):  # type: ignore[no-untyped-def]
    name = f"RedisMemoryHigh{unique}"
    a1 = {
        "labels": {"alertname": name, "group": "g", "instance": "redis-0", "severity": "warning"},
        "annotations": {
            "summary": "Redis <memory> at 95% & rising",
            "description": "cache of postgresql://app:hunter2@postgres:5432/app",
        },
    }
    a2 = {"labels": {**a1["labels"], "instance": "redis-1"}, "annotations": {"summary": "Redis memory at 93%"}}
    am.fire(am_url, [a1])
    first = wait_until(lambda: group_posts(fake_slack, name), timeout=30)[0]
    text = blocks_text(first.args["blocks"])
    assert "FIRING" in first.args["text"] and "redis: " in text  # the routed check's report
    raw = json.dumps(first.args["blocks"], ensure_ascii=False)  # as sent: blocks_text shows it as Slack would
    assert "&lt;memory&gt; at 95% &amp; rising" in raw and "<memory>" not in raw
    assert "http://prometheus.example:9090/graph" in text and "alert_silence:0" in text
    inc = wait_until(lambda: [i for i in incidents(am_bot) if name in i["summary"]])[0]
    assert inc["priority"] == "P2" and inc["status"] == "triggered" and name in inc["alert_group"]
    assert f"INC-{inc['id']}" in text and "incident_ack" in text  # the group's message announces it
    assert len([c for c in fake_slack.called("chat.postMessage") if f"INC-{inc['id']}" in c.args.get("text", "")]) == 0

    am.fire(am_url, [a1, a2])  # a second alert joins the group: the same message is updated
    ts = first.response["ts"]
    upd = wait_until(lambda: [u for u in updates_of(fake_slack, ts) if "2 alerts" in u.args.get("text", "")], 30)
    assert "redis-1" in blocks_text(upd[-1].args["blocks"])
    time.sleep(3)  # Alertmanager's next group_interval: still one message, one incident
    assert len(group_posts(fake_slack, name)) == 1
    assert len([i for i in incidents(am_bot) if name in i["summary"]]) == 1
    timeline = alp_cli(am_bot, "incident", "show", str(inc["id"]))
    assert "alert(s) firing" in timeline and "redis-0" in timeline and "redis-1" in timeline
    assert "check redis" in timeline  # the findings are the incident's evidence
    assert "hunter2" not in timeline and "postgresql://app:" in timeline  # the impact, masked
    assert not [c for c in fake_slack.calls if "hunter2" in json.dumps(c.args)]

    am.resolve(am_url, [a1, a2])
    wait_until(lambda: any(i["id"] == inc["id"] and i["status"] == "resolved" for i in incidents(am_bot)), 30)
    wait_until(lambda: [u for u in updates_of(fake_slack, ts) if "RESOLVED" in u.args.get("text", "")], 30)
    checklist = fake_slack.wait_for("chat.postMessage", lambda c: f"INC-{inc['id']} resolved" in c.args.get("text", ""))
    assert "Clear any alerts" in blocks_text(checklist.args["blocks"])
    clear = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("text") == f"INC-{inc['id']}: clear any alerts"
    )
    assert "No alert of this group is firing" in blocks_text(clear.args["blocks"])

    am.fire(am_url, [a1])  # firing again later: a new incident, linked to the previous one
    wait_until(lambda: len(group_posts(fake_slack, name)) == 2, 30)
    again = wait_until(lambda: [i for i in incidents(am_bot) if name in i["summary"] and i["id"] != inc["id"]], 30)[0]
    assert again["previous_incident"] == inc["id"] and again["alert_group"] == inc["alert_group"]
    am.resolve(am_url, [a1])
    wait_until(lambda: any(i["id"] == again["id"] and i["status"] == "resolved" for i in incidents(am_bot)), 30)


def test_repeats_update_the_message_and_never_open_a_second_incident(am_bot, fake_slack, am_url, unique):  # type: ignore[no-untyped-def]
    name = f"RedisEvictions{unique}"
    alert = {"labels": {"alertname": name, "group": "g", "repeat": "fast"}}
    am.fire(am_url, [alert])
    first = wait_until(lambda: group_posts(fake_slack, name), timeout=30)[0]
    ts = first.response["ts"]
    wait_until(
        lambda: [u for u in updates_of(fake_slack, ts) if "Notifications: 3" in blocks_text(u.args["blocks"])], 30
    )
    assert len(group_posts(fake_slack, name)) == 1
    ours = [i for i in incidents(am_bot) if name in i["summary"]]
    assert len(ours) == 1
    timeline = alp_cli(am_bot, "incident", "show", str(ours[0]["id"]))
    assert timeline.count("check redis") == 1 and timeline.count("alert(s) firing") == 1
    am.resolve(am_url, [alert])
    wait_until(lambda: any(i["id"] == ours[0]["id"] and i["status"] == "resolved" for i in incidents(am_bot)), 30)


def test_silence_from_slack_round_trips_through_alertmanager(am_bot, fake_slack, am_url, unique):  # type: ignore[no-untyped-def]
    name = f"RedisHitRatioLow{unique}"
    alert = {"labels": {"alertname": name, "group": "g", "instance": "redis-0"}}
    am.fire(am_url, [alert])
    msg = wait_until(lambda: group_posts(fake_slack, name), timeout=30)[0]
    inc = wait_until(lambda: [i for i in incidents(am_bot) if name in i["summary"]])[0]
    token = button(msg.args["blocks"], "alert_silence:0")

    def ours() -> list[dict]:
        return [s for s in am.call(am_url, "GET", "/silences") if name in json.dumps(s["matchers"])]

    status, _, _ = click(am_bot, block_action("alert_silence:0", token, user="U0MALLORY", channel="C0ALERTS"))
    assert status == 200
    fake_slack.wait_for("chat.postEphemeral", lambda c: "may not silence" in c.args.get("text", ""))
    assert not ours()

    click(am_bot, block_action("alert_silence:0", token, user="U0ALICE", channel="C0ALERTS"))
    silence = wait_until(ours, 15)[0]
    assert silence["status"]["state"] == "active" and "U0ALICE" in silence["createdBy"]
    assert f"INC-{inc['id']}" in silence["comment"]
    assert {m["name"]: m["value"] for m in silence["matchers"]} == alert["labels"]
    fake_slack.wait_for(
        "chat.postMessage", lambda c: silence["id"] in c.args.get("text", "") and c.args.get("thread_ts")
    )
    assert f"done: silence {silence['id']}" in alp_cli(am_bot, "audit")

    click(am_bot, block_action("incident_resolve", str(inc["id"]), user="U0ALICE", channel="C0ALERTS"))
    ts = msg.response["ts"]  # the group's message shows its incident's state, and keeps the alert firing
    upd = wait_until(lambda: [u for u in updates_of(fake_slack, ts) if "P2, resolved" in blocks_text(u.args["blocks"])])
    assert "FIRING" in upd[-1].args["text"] and "incident_ack" not in blocks_text(upd[-1].args["blocks"])
    clear = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("text") == f"INC-{inc['id']}: clear any alerts"
    )
    text = blocks_text(clear.args["blocks"])
    assert "1 alert(s) of this group still firing" in text and "(silenced)" in text and silence["id"] in text
    expire = button(clear.args["blocks"], "alert_expire_silences")
    click(am_bot, block_action("alert_expire_silences", expire, user="U0MALLORY", channel="C0ALERTS"))
    fake_slack.wait_for("chat.postEphemeral", lambda c: "may not expire silences" in c.args.get("text", ""))
    assert ours()[0]["status"]["state"] == "active"
    click(am_bot, block_action("alert_expire_silences", expire, user="U0ALICE", channel="C0ALERTS"))
    wait_until(lambda: ours()[0]["status"]["state"] == "expired", 15)
    am.resolve(am_url, [alert])


# ---------------------------------------------------------------- storms
@pytest.mark.slow
def test_a_storm_gives_one_message_per_group_and_shares_checks(am_bot, fake_slack, am_url, unique):  # type: ignore[no-untyped-def]
    name = f"Storm{unique}"
    alerts = [
        {"labels": {"alertname": name, "group": f"g{g:02d}", "pod": f"p{i}"}, "annotations": {"summary": "storm"}}
        for g in range(50)
        for i in range(10)
    ]
    _, before = get(am_bot, "/metrics")
    am.fire(am_url, alerts)
    status, _, took = command(am_bot, fake_slack, "check redis", channel="C0ONCALL")  # acked during the storm
    assert status == 200 and took < 3
    wait_until(lambda: len(group_posts(fake_slack, name, "C0STORM")) >= 50, timeout=120)
    time.sleep(4)  # a further group_interval: nothing more may be posted
    posts = group_posts(fake_slack, name, "C0STORM")
    assert len(posts) == 50
    assert all("10 alerts" in p.args["text"] for p in posts)
    ours = [i for i in incidents(am_bot) if name in i["summary"]]
    assert len(ours) == 50 and len({i["alert_group"] for i in ours}) == 50
    _, after = get(am_bot, "/metrics")
    ran = _metric(after, 'alp_alert_checks_total{run="ran",target="redis"}') - _metric(
        before, 'alp_alert_checks_total{run="ran",target="redis"}'
    )
    assert ran == 1  # fifty identical checks, one run
    # The incidents are announced by their groups' messages: fifty messages in all, paced
    # after the burst of 5 to no faster than the configured 10 per second.
    top = [c for c in fake_slack.called("chat.postMessage") if c.args.get("channel") == "C0STORM"]
    assert len([c for c in top if not c.args.get("thread_ts")]) == 50
    times = sorted(c.at for c in top)
    assert (len(times) - 1 - 5) / (times[-1] - times[0]) <= 10 * 1.1
    am.resolve(am_url, alerts)


def _metric(text: str, name: str) -> float:
    m = re.search(re.escape(name) + r" ([0-9.e+]+)", text)
    return float(m.group(1)) if m else 0.0


# ---------------------------------------------------------------- hostile and out-of-order payloads
def test_a_stale_firing_after_the_resolution_opens_nothing(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """A firing notification delayed past the group's resolution (same alert, same startsAt:
    a retried webhook, or another replica's late copy) is not a new episode."""
    name = f"RedisStale{unique}"
    key = f"{{}}:{{alertname={name}}}"
    firing = am.payload(key, [{"labels": {"alertname": name}}])
    assert am.post_webhook(am_bot.url, json.dumps(firing).encode(), am.TOKEN)[0] == 200
    wait_until(lambda: group_posts(fake_slack, name))
    inc = wait_until(lambda: [i for i in incidents(am_bot) if name in i["summary"]])[0]
    resolved = json.loads(json.dumps(firing))
    resolved["status"] = resolved["alerts"][0]["status"] = "resolved"
    resolved["alerts"][0]["endsAt"] = firing["alerts"][0]["startsAt"]
    assert am.post_webhook(am_bot.url, json.dumps(resolved).encode(), am.TOKEN)[0] == 200
    wait_until(lambda: any(i["id"] == inc["id"] and i["status"] == "resolved" for i in incidents(am_bot)), 30)
    assert am.post_webhook(am_bot.url, json.dumps(firing).encode(), am.TOKEN)[0] == 200  # the late copy
    time.sleep(2)
    assert len(group_posts(fake_slack, name)) == 1
    assert [i["id"] for i in incidents(am_bot) if name in i["summary"]] == [inc["id"]]


def test_an_alert_without_labels_gets_a_message_not_a_traceback(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    key = f"{{}}:{{nolabels={unique}}}"
    body = am.payload(key, [{"labels": {"alertname": "x"}, "annotations": {"summary": f"bare {unique}"}}])
    body["groupLabels"], body["commonLabels"], body["alerts"][0]["labels"] = {}, {}, {}
    assert am.post_webhook(am_bot.url, json.dumps(body).encode(), am.TOKEN)[0] == 200
    msg = fake_slack.wait_for("chat.postMessage", lambda c: f"bare {unique}" in json.dumps(c.args.get("blocks")))
    assert "No route matched" in blocks_text(msg.args["blocks"])


def test_a_ten_megabyte_body_is_refused_with_a_reason(am_bot):  # type: ignore[no-untyped-def]
    import urllib.error
    import urllib.request

    body = b'{"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {am.TOKEN}"}
    req = urllib.request.Request(f"{am_bot.url}/alertmanager", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        status, text = err.code, err.read().decode()
    assert status == 413 and "size" in text.lower(), (status, text[:300])
    assert get(am_bot, "/healthz")[0] == 200


def test_two_replicas_hearing_one_group_post_one_message_and_open_one_incident(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    """Two bot replicas over one state store get the same group at once (Alertmanager HA peers,
    or a retry landing on the other replica): the one that started the episode posts it."""
    import threading

    twin = BotProcess(dict(am_bot.env)).start()
    try:
        name = f"RedisTwin{unique}"
        body = json.dumps(am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name}}])).encode()
        answers: list[int] = []
        threads = [
            threading.Thread(target=lambda u=url: answers.append(am.post_webhook(u, body, am.TOKEN)[0]))
            for url in (am_bot.url, twin.url)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200, 200]
        wait_until(lambda: group_posts(fake_slack, name), timeout=30)
        time.sleep(5)  # the other replica's check finishes too
        assert len(group_posts(fake_slack, name)) == 1
        assert len([i for i in incidents(am_bot) if name in i["summary"]]) == 1
    finally:
        twin.stop()
