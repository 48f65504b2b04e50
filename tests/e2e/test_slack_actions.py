"""Remediation safety through the Slack harness: the running alp-bot, signed commands and clicks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time

import redis
from kubernetes import client

from bot.slack.signing import key_from, sign
from tests.support.bot_env import SIGNING_SECRET
from tests.support.k8s_world import PLATFORM
from tests.support.signing import block_action, signed_headers, slash_command
from tests.support.slack_requests import blocks_text, click, command, confirmation, get, post, updated


def button(call, action_id: str) -> str:  # type: ignore[no-untyped-def]
    """The value of the button `action_id` in a posted or updated message."""
    return next(
        e["value"]
        for b in call.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def ephemeral(fake_slack, user: str, text: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.postEphemeral", lambda c: c.args.get("user") == user and text in c.args.get("text", "")
    )


def audit(bot, fake_slack) -> str:  # type: ignore[no-untyped-def]
    rid = f"audit-{time.monotonic_ns()}"
    body = slash_command("audit 50", fake_slack.response_url(rid))
    post(bot, body, signed_headers(SIGNING_SECRET, body))  # acked at once; the records come through response_url
    return str(fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == rid).args["text"])


def replicas(kube_admin, name: str) -> int:  # type: ignore[no-untyped-def]
    return client.AppsV1Api(kube_admin).read_namespaced_deployment_scale(name, PLATFORM).spec.replicas or 0


def test_confirm_flow_runs_the_action_shows_outcome_and_verifies(bot, fake_slack, kube_admin):
    fake_slack.usergroups["S0SRE"] = ["U0CAROL"]
    status, _, took = command(bot, fake_slack, "do scale user-service 2", user="U0CAROL")
    assert status == 200 and took < 3
    msg, buttons = confirmation(fake_slack, "scale deployment=user-service replicas=2")
    assert "-> 2 replicas" in blocks_text(msg.args["blocks"])  # the preview from the API server's dry run
    assert replicas(kube_admin, "user-service") != 2  # nothing changed yet

    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0CAROL"))

    done = updated(fake_slack, msg, "scaled deployment/user-service")
    assert "by <@U0CAROL>" in blocks_text(done.args["blocks"])
    assert "alp_action_confirm" not in blocks_text(done.args["blocks"])  # buttons replaced by the outcome
    assert "alp_action_undo" in blocks_text(done.args["blocks"])  # scale can be undone
    assert replicas(kube_admin, "user-service") == 2
    after = fake_slack.wait_for(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == msg.response["ts"] and c.args.get("text", "").startswith("After scale"),
    )
    assert "health" in after.args["text"]
    log = audit(bot, fake_slack)
    for event in ("dry-run", "requested", "outcome"):
        assert event in log
    _, metrics = get(bot, "/metrics")
    assert 'alp_actions_total{action="scale",event="done"}' in metrics
    undo = button(done, "alp_action_undo")
    click(bot, block_action("alp_action_undo", undo, user="U0CAROL"))
    undo_msg, _ = confirmation(fake_slack, f"scale deployment=user-service replicas=0 namespace={PLATFORM}")
    assert "2 -> 0 replicas" in blocks_text(undo_msg.args["blocks"])
    client.AppsV1Api(kube_admin).patch_namespaced_deployment_scale("user-service", PLATFORM, {"spec": {"replicas": 0}})


def test_unauthorized_user_is_refused_and_audited(bot, fake_slack, kube_admin):
    before = replicas(kube_admin, "ml-service")
    command(bot, fake_slack, "do scale ml-service 4", user="U0MALLORY")
    _msg, buttons = confirmation(fake_slack, "scale deployment=ml-service replicas=4")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0MALLORY"))
    refused = ephemeral(fake_slack, "U0MALLORY", "You may not run disruptive actions")
    assert "S0SRE" in refused.args["text"] and "Nothing was changed" in refused.args["text"]
    time.sleep(0.3)
    assert replicas(kube_admin, "ml-service") == before
    assert "not authorized for disruptive" in audit(bot, fake_slack)


def test_authorization_is_checked_at_click_time_not_when_posted(bot, fake_slack, kube_admin):
    fake_slack.usergroups["S0SRE"] = []  # Carol left the SRE group after the button was posted
    command(bot, fake_slack, "do scale ml-service 3", user="U0CAROL")
    _, buttons = confirmation(fake_slack, "scale deployment=ml-service replicas=3")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0CAROL"))
    ephemeral(fake_slack, "U0CAROL", "You may not run disruptive actions")


def test_tampered_and_expired_payloads_are_refused(bot, fake_slack, kube_admin):
    command(bot, fake_slack, "do scale ml-service 5", user="U0ALICE")
    _, buttons = confirmation(fake_slack, "scale deployment=ml-service replicas=5")
    body, mac = buttons["alp_action_confirm"].rsplit(".", 1)
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    click(bot, block_action("alp_action_confirm", tampered, user="U0ALICE"))
    ephemeral(fake_slack, "U0ALICE", "valid signature")

    stale = sign({"a": "scale", "p": {"deployment": "ml-service", "replicas": 9}}, key_from(SIGNING_SECRET), -5)
    click(bot, block_action("alp_action_request", stale, user="U0ALICE"))
    ephemeral(fake_slack, "U0ALICE", "expired")
    time.sleep(0.3)
    assert replicas(kube_admin, "ml-service") not in (5, 9)
    log = audit(bot, fake_slack)
    assert "valid signature" in log and "expired" in log


def test_double_click_and_slack_retry_run_once(bot, fake_slack, kube_admin):
    command(bot, fake_slack, "do restart auth-service", user="U0ALICE")
    msg, buttons = confirmation(fake_slack, "restart deployment=auth-service")
    body = block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE")
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda retry: click(bot, body, retry), [None, None, 1]))
    updated(fake_slack, msg, "restarted deployment/auth-service")
    time.sleep(1.0)
    outcomes = [
        line for line in audit(bot, fake_slack).splitlines() if "*outcome* restart deployment=auth-service" in line
    ]
    assert len(outcomes) == 1
    assert ephemeral(fake_slack, "U0ALICE", "is already")


def test_per_target_lock_says_who_is_running(bot, fake_slack, testbed, kube_admin):
    command(bot, fake_slack, "do restart scheduler-service", user="U0ALICE")
    _, buttons = confirmation(fake_slack, "restart deployment=scheduler-service")
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    key = f"alp:lock:deployment/{PLATFORM}/scheduler-service"
    r.set(key, "U0BOB#99", ex=30)
    try:
        click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
        busy = ephemeral(fake_slack, "U0ALICE", "already running")
        assert "<@U0BOB>" in busy.args["text"]
    finally:
        r.delete(key)
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
    fake_slack.wait_for("chat.update", lambda c: "restarted deployment/scheduler-service" in c.args.get("text", ""))


def test_two_person_rule_for_destructive_actions(bot, fake_slack, testbed):
    fake_slack.usergroups["S0SRE"] = ["U0CAROL"]  # Carol may run disruptive actions, not destructive ones
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set("user:two-person", "1")
    command(bot, fake_slack, "do flush-cache", user="U0ALICE")
    msg, buttons = confirmation(fake_slack, "flush-cache")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
    waiting = updated(fake_slack, msg, "needs a *second* authorized person")
    approve = button(waiting, "alp_action_approve")

    click(bot, block_action("alp_action_approve", approve, user="U0ALICE"))  # her own request
    ephemeral(fake_slack, "U0ALICE", "cannot approve your own request")
    click(bot, block_action("alp_action_approve", approve, user="U0CAROL"))  # disruptive only
    ephemeral(fake_slack, "U0CAROL", "may not approve destructive")
    assert r.get("user:two-person") == b"1"

    click(bot, block_action("alp_action_approve", approve, user="U0BOB"))
    done = updated(fake_slack, msg, "flushed database 0")
    assert "approved by <@U0BOB>" in blocks_text(done.args["blocks"])
    assert r.get("user:two-person") is None
    log = audit(bot, fake_slack)
    assert "self-approval" in log and "*approved* flush-cache" in log


def test_two_person_approval_times_out(bot, fake_slack):
    command(bot, fake_slack, "do rotate-jwt-key", user="U0ALICE")
    msg, buttons = confirmation(fake_slack, "rotate-jwt-key")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
    waiting = updated(fake_slack, msg, "needs a *second* authorized person")
    approve = button(waiting, "alp_action_approve")
    time.sleep(4.5)  # the bot under test allows 4 s for the second person
    click(bot, block_action("alp_action_approve", approve, user="U0BOB"))
    ephemeral(fake_slack, "U0BOB", "approval window has expired")
    updated(fake_slack, msg, "approval window expired")


def test_refusals_from_bounds_and_backends_are_explained(bot, fake_slack):
    command(bot, fake_slack, "do scale user-service 500", user="U0ALICE")
    fake_slack.wait_for("response_url", lambda c: "outside the allowed 0..20" in c.args.get("text", ""))
    command(bot, fake_slack, "do set-config auth-config password=x", user="U0ALICE")
    fake_slack.wait_for("response_url", lambda c: "not allowed" in c.args.get("text", ""))
    _, body, _ = command(bot, fake_slack, "do scael user-service 2")
    assert "Did you mean `scale`" in json.loads(body)["text"]


def test_a_finding_button_opens_the_confirmation(bot, fake_slack, testbed, unique):
    from tests.support.kafka import commit, create_topic, produce

    async def setup() -> None:
        await create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], unique, 1)
        await produce(testbed["ALP_KAFKA_BOOTSTRAP"], unique, {0: 5})
        await commit(testbed["ALP_KAFKA_BOOTSTRAP"], unique, unique, {0: 1})

    asyncio.run(setup())
    command(bot, fake_slack, f"check kafka-lag --group {unique}", user="U0ALICE")
    report = fake_slack.wait_for(
        "chat.update",
        lambda c: (
            unique in blocks_text(c.args.get("blocks", []))
            and "alp_action_request" in blocks_text(c.args.get("blocks", []))
        ),
    )
    value = next(
        e["value"]
        for b in report.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("alp_action_request")
    )
    click(bot, block_action("alp_action_request:0", value, user="U0ALICE", message_ts=report.args["ts"]))
    msg, _ = confirmation(fake_slack, f"reset-offsets group={unique} to=latest")
    assert msg.args["thread_ts"] == report.args["ts"]  # the confirmation sits under the finding
    assert f"{unique}[0]: 1 -> 5 (skips 4)" in blocks_text(msg.args["blocks"])


def test_modal_asks_for_what_a_button_cannot_know(bot, fake_slack, kube_admin):
    from tests.support.signing import view_submission

    value = sign({"a": "scale", "p": {"deployment": "user-service"}}, key_from(SIGNING_SECRET), 60)
    click(bot, block_action("alp_action_request", value, user="U0ALICE"))
    form = fake_slack.wait_for("views.open", lambda c: c.args["view"]["callback_id"] == "alp_action_modal")
    assert [b["block_id"] for b in form.args["view"]["blocks"]] == ["replicas"]
    click(
        bot,
        view_submission(
            "alp_action_modal",
            form.args["view"]["private_metadata"],
            {"replicas": {"value": {"type": "plain_text_input", "value": "3"}}},
            user="U0ALICE",
        ),
    )
    confirmation(fake_slack, "scale deployment=user-service replicas=3")


def test_dry_run_mode_turns_every_action_into_its_preview(testbed, fake_slack, platform, kube_admin, tmp_path):
    from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV
    from tests.support.processes import BotProcess

    env = {
        **testbed,
        **ESCALATION_ENV,
        **ACTIONS_ENV,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/dry.db",
        "ALP_ACTIONS__DRY_RUN": "true",
    }
    dry = BotProcess(env).start()
    try:
        before = replicas(kube_admin, "ml-service")
        command(dry, fake_slack, "do scale ml-service 7", user="U0ALICE")
        msg, buttons = confirmation(fake_slack, "scale deployment=ml-service replicas=7")
        assert "dry-run mode" in blocks_text(msg.args["blocks"])
        click(dry, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
        updated(fake_slack, msg, "dry-run mode: nothing was changed")
        assert replicas(kube_admin, "ml-service") == before
    finally:
        dry.stop()


def test_secrets_in_a_preview_never_reach_slack(bot, fake_slack, testbed):
    """A backend running `ALTER ROLE … PASSWORD '…'` shows up in terminate-queries' preview, masked."""
    import psycopg

    conn = psycopg.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True)
    try:
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SELECT 1 /* ALTER ROLE app PASSWORD 'hunter2-secret' */")
        command(bot, fake_slack, f"do terminate-queries pids={pid}", user="U0ALICE")
        msg, _ = confirmation(fake_slack, f"terminate-queries pids={pid}")
        shown = blocks_text(msg.args["blocks"]).replace("\u200b", "")  # foreign `*` made inert (#21) reads the same
        assert f"terminate pid {pid}" in shown and "PASSWORD '***'" in shown
        assert "hunter2-secret" not in json.dumps([c.args for c in fake_slack.calls])
    finally:
        conn.close()


def test_do_in_a_channel_the_bot_is_not_in_says_how_to_fix_it(bot, fake_slack):
    fake_slack.not_in_channel.add("C0PRIVATE")
    command(bot, fake_slack, "do warm-cache scheduler-service", channel="C0PRIVATE", user="U0ALICE")
    reply = fake_slack.wait_for("response_url", lambda c: "cannot post the confirmation" in c.args.get("text", ""))
    assert "/invite @alp" in reply.args["text"] and "Nothing was changed" in reply.args["text"]


def test_the_approve_button_lasts_as_long_as_the_approval_window(testbed, fake_slack, tmp_path):
    """The flow lets the second person approve within `approval_timeout_s`; the Approve button's
    signed value expired with `request_ttl_s` instead, so with a window longer than the request's
    time to live (both are settings) Slack refused an approval the flow (and the terminal) allow."""
    from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV
    from tests.support.processes import BotProcess

    env = {
        **testbed,
        **ESCALATION_ENV,
        **ACTIONS_ENV,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/window.db",
        "ALP_ACTIONS__REQUEST_TTL_S": "3",
        "ALP_ACTIONS__APPROVAL_TIMEOUT_S": "120",
    }
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set("user:long-window", "1")
    slow = BotProcess(env).start()
    try:
        command(slow, fake_slack, "do flush-cache", user="U0ALICE")
        msg, buttons = confirmation(fake_slack, "flush-cache")
        click(slow, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
        waiting = updated(fake_slack, msg, "needs a *second* authorized person")
        approve = button(waiting, "alp_action_approve")
        time.sleep(3.5)  # past the request's time to live, well within the approval window
        click(slow, block_action("alp_action_approve", approve, user="U0BOB"))
        updated(fake_slack, msg, "flushed database 0")
        assert r.get("user:long-window") is None
    finally:
        slow.stop()
