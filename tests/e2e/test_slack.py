"""The running alp-bot, driven over HTTP with signed requests as Slack sends them."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from tests.support.bot_env import SIGNING_SECRET
from tests.support.kafka import commit, create_topic, produce
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_requests import blocks_text, command, get, post


@pytest.fixture
def lagging_group(testbed, unique) -> str:
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]

    async def setup() -> None:
        await create_topic(bootstrap, unique, 2)
        await produce(bootstrap, unique, {0: 12, 1: 8})
        await commit(bootstrap, unique, unique, {0: 2, 1: 8})

    asyncio.run(setup())
    return unique


def test_check_kafka_lag_posts_progress_then_findings(bot, fake_slack, lagging_group):
    status, _body, took = command(bot, fake_slack, f"check kafka-lag --group {lagging_group}")

    assert status == 200
    assert took < 3, "Slack needs the ack within 3 seconds"
    first = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "C0ONCALL")
    assert "Running `kafka-lag`" in first.args["text"]
    assert "broker" in blocks_text(first.args["blocks"])  # the probes are listed
    final = fake_slack.wait_for("chat.update", lambda c: lagging_group in blocks_text(c.args.get("blocks", [])))
    text = blocks_text(final.args["blocks"])
    assert f"Consumer group {lagging_group}: STOP, lag 10" in text
    assert "reset-offsets" in text  # the runbook's remediation is suggested
    assert final.args["blocks"][0]["type"] == "header"
    assert final.args["blocks"][-2]["type"] == "context"
    button = final.args["blocks"][-1]["elements"][0]  # a critical report offers to open an incident
    assert button["action_id"] == "incident_open_from_finding"
    assert lagging_group in json.loads(button["value"])["summary"]


def test_result_replaces_the_progress_message(bot, fake_slack, lagging_group):
    command(bot, fake_slack, f"check kafka-lag --group {lagging_group}")
    final = fake_slack.wait_for("chat.update", lambda c: lagging_group in blocks_text(c.args.get("blocks", [])))
    posted = [c for c in fake_slack.called("chat.postMessage") if c.args.get("channel") == "C0ONCALL"]
    assert len(posted) == 1
    # the update targets the message the bot posted (Slack's ts for it), not a new one
    assert final.args["ts"] == posted[0].response["ts"] and final.args["channel"] == "C0ONCALL"


def test_unknown_target_gets_ephemeral_usage_with_closest_name(bot, fake_slack):
    status, body, _ = command(bot, fake_slack, "check kafka-lga")

    assert status == 200
    reply = json.loads(body)
    assert reply["response_type"] == "ephemeral"
    assert "Did you mean `kafka-lag`" in reply["text"]
    assert "Check targets" not in reply["text"] and len(reply["text"]) < 600  # the answer, not the whole help (#29)
    time.sleep(0.5)
    assert fake_slack.called("chat.postMessage") == []


def test_unknown_verb_gets_usage(bot, fake_slack):
    status, body, _ = command(bot, fake_slack, "chekc kafka-lag")
    reply = json.loads(body)
    assert status == 200 and reply["response_type"] == "ephemeral"
    assert "Did you mean `check`" in reply["text"]


def test_bad_option_is_named(bot, fake_slack):
    _, body, _ = command(bot, fake_slack, "check kafka-lag --samples lots")
    assert "--samples" in json.loads(body)["text"]


def test_help_lists_targets_from_the_registry(bot, fake_slack):
    _, body, _ = command(bot, fake_slack, "help")
    assert "kafka-lag" in json.loads(body)["text"]
    _, body, _ = command(bot, fake_slack, "help kafka-lag")
    text = json.loads(body)["text"]
    assert "--group" in text and "High Consumer Lag" in text


def test_bad_signature_is_rejected_and_nothing_posted(bot, fake_slack, lagging_group):
    body = slash_command(f"check kafka-lag --group {lagging_group}", fake_slack.response_url("x"))
    headers = signed_headers("not-the-secret", body)
    status, _, _ = post(bot, body, headers)
    assert status == 401
    time.sleep(1)
    assert fake_slack.calls == []


def test_stale_timestamp_is_rejected_and_nothing_posted(bot, fake_slack, lagging_group):
    body = slash_command(f"check kafka-lag --group {lagging_group}", fake_slack.response_url("x"))
    headers = signed_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 6 * 60)
    status, _, _ = post(bot, body, headers)
    assert status == 401
    time.sleep(1)
    assert fake_slack.calls == []


def test_tampered_body_is_rejected(bot, fake_slack, lagging_group):
    body = slash_command("help", fake_slack.response_url("x"))
    headers = signed_headers(SIGNING_SECRET, body)
    status, _, _ = post(bot, body.replace("help", "check+kafka-lag"), headers)
    assert status == 401


def test_channel_the_bot_is_not_in_falls_back_to_response_url(bot, fake_slack, lagging_group):
    fake_slack.not_in_channel.add("C0PRIVATE")
    status, _, _ = command(bot, fake_slack, f"check kafka-lag --group {lagging_group}", channel="C0PRIVATE")
    assert status == 200
    final = fake_slack.wait_for("response_url", lambda c: lagging_group in blocks_text(c.args.get("blocks", [])))
    assert final.args["replace_original"] is True
    assert final.args["response_type"] == "in_channel"


def test_output_too_long_for_a_message_goes_out_as_a_file(bot, fake_slack, testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    topics = [f"{unique}-a", f"{unique}-b"]  # two topics: the topic column differs from row to row

    async def setup() -> None:
        for topic in topics:
            await create_topic(bootstrap, topic, 60)
            await produce(bootstrap, topic, {p: 1 + p % 3 for p in range(60)})  # not one lag a caption would lift
            await commit(bootstrap, unique, topic, {p: 0 for p in range(60)})

    asyncio.run(setup())
    command(bot, fake_slack, f"check kafka-lag --group {unique}")
    upload = fake_slack.wait_for("upload", lambda c: unique in c.args["content"], timeout=40)
    content = upload.args["content"]
    # every partition is in the file: nothing silently cut
    rows = {m[:2] for m in re.findall(rf"^\s+({unique}-[ab])\s+(\d+)\s+0\s+(\d)\s+\3\s", content, re.M)}
    assert rows == {(t, str(p)) for t in topics for p in range(60)}
    done = fake_slack.wait_for("files.completeUploadExternal")
    assert done.args["channel_id"] == "C0ONCALL"
    summary = fake_slack.wait_for(
        "chat.update", lambda c: "attached as a file" in blocks_text(c.args.get("blocks", []))
    )
    assert len(summary.args["blocks"]) <= 50


def test_health_readiness_and_metrics_endpoints(bot, fake_slack, lagging_group):
    status, body = get(bot, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"

    status, body = get(bot, "/readyz")
    ready = json.loads(body)
    assert status == 200
    assert ready["backends"]["kafka"]["ok"] is True
    assert ready["backends"]["postgres"]["ok"] is True
    assert ready["backends"]["redis"]["ok"] is True
    assert ready["ready"] is True and ready["state_store"] == "ok" and ready["escalation_leader"] is True

    command(bot, fake_slack, f"check kafka-lag --group {lagging_group}")
    fake_slack.wait_for("chat.update", lambda c: lagging_group in blocks_text(c.args.get("blocks", [])))
    time.sleep(0.2)
    status, metrics = get(bot, "/metrics")
    assert status == 200
    assert 'alp_commands_total{outcome="ok",verb="check"}' in metrics
    assert 'alp_check_outcomes_total{severity="critical",target="kafka-lag"}' in metrics
    assert 'alp_check_duration_seconds_count{target="kafka-lag"}' in metrics


def test_health_lists_probes_first_then_updates_in_place(bot, fake_slack):
    status, _, took = command(bot, fake_slack, "health --all")  # --all: the OK findings listed too
    assert status == 200 and took < 3
    first = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "C0ONCALL")
    listed = blocks_text(first.args["blocks"])
    for probe in (
        "pods",
        "auth-service",
        "user-service",
        "scheduler-service",
        "ml-service",
        "postgres",
        "redis",
        "kafka",
    ):
        assert probe in listed
    final = fake_slack.wait_for("chat.update", lambda c: "health:" in blocks_text(c.args.get("blocks", [])))
    text = blocks_text(final.args["blocks"])
    assert "PostgreSQL: SELECT 1" in text and "Redis: PONG" in text and "auth-service /health" in text
    # updates of messages this test posted (a check of an earlier test may still update its own message)
    posted = {c.response["ts"] for c in fake_slack.called("chat.postMessage")}
    updates = [u for u in fake_slack.called("chat.update") if u.args["ts"] in posted]
    assert {(u.args["channel"], u.args["ts"]) for u in updates} == {("C0ONCALL", first.response["ts"])}
    # progress updates are rate limited: never more than one a second, plus the final answer
    span = final.at - first.at
    assert len(updates) <= 2 + int(span)


def test_help_follows_the_runbook_order(bot, fake_slack):
    _, body, _ = command(bot, fake_slack, "help")
    text = json.loads(body)["text"]
    order = [text.index(f"`{t}`") for t in ("health", "auth", "deadlocks", "kafka-lag", "security")]
    assert order == sorted(order)
