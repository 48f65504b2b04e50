"""The running bot under Slack failures, odd input and hostile users; its log is read.

A bot of its own (with its own state store) writes its log to a file, so each test can assert
what was logged: a loss with its reason, and never a traceback.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import pytest
from itsdangerous import URLSafeTimedSerializer

from bot.settings import Settings
from tests.support.bot_env import SIGNING_SECRET
from tests.support.kafka import commit, create_topic, produce
from tests.support.processes import BotProcess, LoggedBot, wait_until
from tests.support.signing import block_action, interaction, signed_headers, slash_command
from tests.support.slack_fake import FakeSlack
from tests.support.slack_requests import blocks_text, post


def cmd(lbot: LoggedBot, slack: FakeSlack, text: str, rid: str = "r1", **kw: str) -> tuple[int, str, float]:
    body = slash_command(text, slack.response_url(rid), **kw)
    return post(lbot.proc, body, signed_headers(SIGNING_SECRET, body))


def click(lbot: LoggedBot, body: str) -> tuple[int, str, float]:
    return post(lbot.proc, body, signed_headers(SIGNING_SECRET, body))


def no_traceback(lbot: LoggedBot) -> None:
    log = lbot.text()
    assert "Traceback" not in log and "unhandled" not in log, log[-3000:]


def confirmation(slack: FakeSlack, channel: str, contains: str) -> dict[str, str]:
    msg = slack.wait_for(
        "chat.postMessage",
        lambda c: (
            c.args.get("channel") == channel
            and c.args.get("text", "").startswith("Confirm")
            and contains in c.args.get("text", "")
        ),
    )
    return {e["action_id"]: e["value"] for b in msg.args["blocks"] if b["type"] == "actions" for e in b["elements"]}


# ---------------------------------------------------------------- 1/2. hostile text through the bot
def test_a_mention_in_a_group_name_is_shown_escaped(lbot, fake_slack):
    cmd(lbot, fake_slack, "check kafka-lag --group <!channel>", channel="CESC1")
    final = fake_slack.wait_for(
        "chat.update",
        lambda c: (
            c.args.get("channel") == "CESC1" and c.args.get("text", "").startswith("kafka-lag:")
        ),  # the report, not a progress update
    )
    raw = json.dumps(final.args["blocks"])
    assert "<!channel>" not in raw and "&lt;!channel&gt;" in raw


def test_set_config_confirmation_escapes_and_masks_and_keeps_old_values_out_of_buttons(lbot, fake_slack):
    cmd(lbot, fake_slack, "do set-config auth-config cache_ttl=<!here>", channel="CESC2")
    msg = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("channel") == "CESC2")
    assert "<!here>" not in msg.args["text"] and "<!here>" not in json.dumps(msg.args["blocks"])

    cmd(
        lbot,
        fake_slack,
        "do set-config auth-config oauth_endpoint=https://cli:Xyz-s3cret@auth.example.com",
        channel="CESC3",
    )
    buttons = confirmation(fake_slack, "CESC3", "oauth_endpoint")
    posted = [c for c in fake_slack.calls if c.args.get("channel") == "CESC3"]
    assert posted and all("Xyz-s3cret" not in json.dumps(c.args) for c in posted)
    click(lbot, block_action("alp_action_confirm", buttons["alp_action_confirm"], channel="CESC3"))
    done = fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("channel") == "CESC3" and "Undo" in json.dumps(c.args.get("blocks", []))
    )
    assert "Xyz-s3cret" not in json.dumps(done.args)
    undo = next(e["value"] for b in done.args["blocks"] if b["type"] == "actions" for e in b["elements"])
    payload = json.dumps(URLSafeTimedSerializer(b"any key").loads_unsafe(undo)[1])  # what anyone can read of it
    assert "oauth_endpoint" not in payload and "http" not in payload  # a reference, no values
    # Undo still knows the old value: server-side, by the request's id
    click(lbot, block_action("alp_action_undo", undo, channel="CESC3"))
    fake_slack.wait_for(
        "chat.postMessage",
        lambda c: (
            c.args.get("channel") == "CESC3"
            and "oauth_endpoint" in c.args.get("text", "")
            and c.args.get("text", "").startswith("Confirm")
        ),
    )
    cmd(lbot, fake_slack, "audit 20", rid="audit-cesc3", channel="CESC3")
    body = fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == "audit-cesc3").args["text"]
    assert "set-config" in body and "Xyz-s3cret" not in body
    from escalation.state.audit import AuditLog

    rows = asyncio.run(AuditLog.latest_of(lbot.proc.env["ALP_STATE_URL"], 50))
    assert rows and all("Xyz-s3cret" not in json.dumps(r, default=str) for r in rows)
    no_traceback(lbot)


# ---------------------------------------------------------------- 3. help is whole
def test_help_is_answered_whole(lbot, fake_slack):
    from bot.router import help_text

    _, body, _ = cmd(lbot, fake_slack, "help")
    reply = json.loads(body)
    shown = "\n".join(b["text"]["text"] for b in reply["blocks"])
    assert help_text().splitlines()[-1].replace("<", "&lt;").replace(">", "&gt;") in shown
    assert all(len(b["text"]["text"]) <= 3000 for b in reply["blocks"])


# ---------------------------------------------------------------- 4. Slack failures
def test_a_rate_limited_final_update_is_retried_after_retry_after(lbot, fake_slack):
    fake_slack.fail(
        "chat.update", "ratelimited", status=429, retry_after=1, when=lambda a: "Running" not in a.get("text", "")
    )
    cmd(lbot, fake_slack, "check redis", channel="CFAIL1")
    ok = fake_slack.wait_for(
        "chat.update",
        lambda c: (
            c.args.get("channel") == "CFAIL1" and "redis:" in c.args.get("text", "") and not c.response.get("failed")
        ),
    )
    failed = [c for c in fake_slack.called("chat.update") if c.response.get("failed")]
    assert failed and ok.at - failed[0].at >= 0.9  # waited as Slack asked


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long"])
def test_a_refused_final_update_still_delivers_the_report(lbot, fake_slack, error):
    channel = f"CFAIL-{error}"
    final = lambda a: a.get("channel") == channel and "Running" not in a.get("text", "")  # noqa: E731
    fake_slack.fail("chat.update", error, times=5, when=final)
    cmd(lbot, fake_slack, "check redis", channel=channel)
    fake_slack.wait_for(  # a new message carries the report
        "chat.postMessage", lambda c: final(c.args) and "redis:" in c.args["text"] and not c.response.get("failed")
    )
    no_traceback(lbot)


def test_blocks_refused_everywhere_become_text_and_a_file(lbot, fake_slack):
    channel = "CFAIL-blocks"
    with_blocks = lambda a: a.get("channel") == channel and "blocks" in a and "Running" not in a.get("text", "")  # noqa: E731
    fake_slack.fail("chat.update", "invalid_blocks", times=5, when=with_blocks)
    fake_slack.fail("chat.postMessage", "invalid_blocks", times=5, when=with_blocks)
    cmd(lbot, fake_slack, "check redis", channel=channel)
    upload = fake_slack.wait_for("upload", lambda c: "redis: " in c.args.get("content", ""))  # the headline
    text_only = [c for c in fake_slack.calls if c.args.get("channel") == channel and not c.response.get("failed")]
    assert any("redis:" in c.args.get("text", "") and "blocks" not in c.args for c in text_only)
    assert "<" not in upload.args["content"].replace("<@", "")  # plain text, not mrkdwn entities
    no_traceback(lbot)


def test_a_server_error_with_an_html_body_is_retried(lbot, fake_slack):
    fake_slack.fail(
        "chat.postMessage",
        status=500,
        body="<html>Internal Server Error</html>",
        when=lambda a: a.get("channel") == "CFAIL5",
    )
    status, _, took = cmd(lbot, fake_slack, "check redis", channel="CFAIL5")
    assert status == 200 and took < 3
    fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("channel") == "CFAIL5" and "redis:" in c.args.get("text", "")
    )
    no_traceback(lbot)


def test_a_rate_limited_refusal_is_still_delivered(lbot, fake_slack):
    fake_slack.fail("chat.postEphemeral", "ratelimited", status=429, retry_after=1)
    click(lbot, block_action("alp_action_confirm", "forged.value", channel="CFAIL6", user="U0MALLORY"))
    fake_slack.wait_for(
        "chat.postEphemeral", lambda c: c.args.get("user") == "U0MALLORY" and not c.response.get("failed"), timeout=15
    )


def test_not_in_channel_and_a_failing_response_url_is_logged_as_a_loss(lbot, fake_slack):
    fake_slack.not_in_channel.add("CFAIL7")
    fake_slack.fail("response_url", status=500, times=10, when=lambda a: a.get("rid") == "lost7")
    cmd(lbot, fake_slack, "check redis", rid="lost7", channel="CFAIL7")
    wait_until(lambda: "lost" in lbot.text() and "CFAIL7" in lbot.text(), timeout=30)
    line = next(x for x in lbot.text().splitlines() if "lost" in x and "CFAIL7" in x)
    assert "not_in_channel" in line and "response_url" in line


# ---------------------------------------------------------------- 5. odd input
@pytest.mark.parametrize(
    "text",
    ["audit ²", "incident ack ①", "audit 1" + "0" * 4400, "incident show 99999999999999999999", "incident show INC-٣"],
)
def test_odd_numbers_get_an_answer(lbot, fake_slack, text):
    status, body, took = cmd(lbot, fake_slack, text, rid="odd")
    assert status == 200 and took < 3
    answered = body.strip() or fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == "odd")
    assert answered
    no_traceback(lbot)


def test_bad_timestamps_and_unsigned_bodies_get_401_and_are_not_logged(lbot, fake_slack):
    body = slash_command("help", fake_slack.response_url("x"))
    for ts in ("not-a-number", "1e9", "", "-5", "9" * 40, str(int(time.time())) + ".5"):
        headers = signed_headers(SIGNING_SECRET, body)
        headers["X-Slack-Request-Timestamp"] = ts
        assert post(lbot.proc, body, headers)[0] == 401
    unsigned = "payload=not-json"
    assert post(lbot.proc, unsigned, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 401
    before = lbot.log.stat().st_size
    big = "payload=" + "A" * 900_000
    assert post(lbot.proc, big, signed_headers("wrong-secret", big))[0] == 401
    assert lbot.log.stat().st_size - before < 2000  # a line, not the body
    no_traceback(lbot)


def test_signed_but_unreadable_bodies_and_clicks_without_value_are_answered(lbot, fake_slack):
    body = "payload=not-json"
    assert click(lbot, body)[0] == 400
    payload = json.loads(
        __import__("urllib.parse").parse.parse_qs(block_action("alp_action_confirm", "v"))["payload"][0]
    )
    del payload["actions"][0]["value"]
    for action_id in ("alp_action_confirm", "alp_action_request:0", "incident_ack", "incident_note", "no_such_button"):
        payload["actions"][0]["action_id"] = action_id
        status, _, took = click(lbot, interaction(payload))
        assert status == 200 and took < 3
    time.sleep(1)
    no_traceback(lbot)


# ---------------------------------------------------------------- 6. smaller
def test_only_the_requester_or_an_authorized_person_may_cancel(lbot, fake_slack):
    cmd(lbot, fake_slack, "do flush-cache", channel="CCAN", user="U0ALICE")
    buttons = confirmation(fake_slack, "CCAN", "flush-cache")
    click(lbot, block_action("alp_action_cancel", buttons["alp_action_cancel"], channel="CCAN", user="U0MALLORY"))
    fake_slack.wait_for(
        "chat.postEphemeral", lambda c: c.args.get("user") == "U0MALLORY" and "cancel" in c.args.get("text", "")
    )
    assert not any(
        "cancelled by" in json.dumps(c.args)
        for c in fake_slack.called("chat.update")
        if c.args.get("channel") == "CCAN"
    )
    click(lbot, block_action("alp_action_cancel", buttons["alp_action_cancel"], channel="CCAN", user="U0ALICE"))
    fake_slack.wait_for(
        "chat.update",
        lambda c: c.args.get("channel") == "CCAN" and "cancelled by" in blocks_text(c.args.get("blocks", [])),
    )


def test_a_finding_button_clicked_in_another_channel_is_refused(lbot, fake_slack, testbed, unique):
    async def lagging() -> None:  # a stopped consumer group: its report offers remediation buttons
        await create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], unique, 1)
        await produce(testbed["ALP_KAFKA_BOOTSTRAP"], unique, {0: 5})
        await commit(testbed["ALP_KAFKA_BOOTSTRAP"], unique, unique, {0: 1})

    asyncio.run(lagging())
    cmd(lbot, fake_slack, "check kafka-lag --group " + unique, channel="CHOME")
    final = fake_slack.wait_for(
        "chat.update",
        lambda c: (
            c.args.get("channel") == "CHOME" and c.args.get("text", "").startswith("kafka-lag:")
        ),  # the report, not a progress update
    )
    values = [
        e["value"]
        for b in final.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"].startswith("alp_action_request")
    ]
    assert values
    click(lbot, block_action("alp_action_request:0", values[0], channel="CELSEWHERE", user="U0ALICE"))
    fake_slack.wait_for(
        "chat.postEphemeral",
        lambda c: c.args.get("channel") == "CELSEWHERE" and "another channel" in c.args.get("text", ""),
    )
    assert not [c for c in fake_slack.called("chat.postMessage") if c.args.get("channel") == "CELSEWHERE"]


def test_buttons_need_a_signing_secret():
    from bot.remediation.buttons import SlackRemediation

    with pytest.raises(ValueError, match="SLACK_SIGNING_SECRET"):
        SlackRemediation(Settings(_env_file=None), None, None)  # type: ignore[arg-type, call-arg]


def test_a_dsn_password_with_a_space_stays_out_of_readyz_and_the_log(bot, tmp_path):
    password = "Sp ace-" + str(int(time.time()))
    host_port = bot.env["ALP_POSTGRES_DSN"].rsplit("@", 1)[1]
    env = {**bot.env, "ALP_STATE_URL": f"sqlite:///{tmp_path}/s.db", "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0"}
    env["ALP_POSTGRES_DSN"] = f"postgresql://postgres:{password}@{host_port}"
    proc = BotProcess(env, log_path=tmp_path / "bot.log").start()
    try:
        with urllib.request.urlopen(f"{proc.url}/readyz", timeout=20) as resp:
            body = resp.read().decode()
        assert json.loads(body)["backends"]["postgres"]["ok"] is False
        assert password not in body
    finally:
        proc.stop()
    assert password not in (tmp_path / "bot.log").read_text()


def test_a_confirmation_too_long_for_a_message_says_how_many_more_and_attaches_every_line(lbot, fake_slack, testbed):
    topic = f"wide-{int(time.time() * 1000)}"

    async def wide_group() -> None:  # an empty group committed on 150 partitions
        await create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], topic, 150)
        await commit(testbed["ALP_KAFKA_BOOTSTRAP"], topic, topic, dict.fromkeys(range(150), 0))

    asyncio.run(wide_group())
    cmd(lbot, fake_slack, f"do reset-offsets {topic}", channel="CWIDE")
    msg = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("channel") == "CWIDE" and c.args.get("text", "").startswith("Confirm")
    )
    preview = msg.args["blocks"][2]["text"]["text"]  # under the head and the buttons
    assert len(preview) <= 3000
    shown = [p for p in range(150) if f"{topic}[{p}]:" in preview]
    more = int(preview.rsplit("and ", 1)[1].split(" more", 1)[0])
    assert shown == list(range(len(shown))) and len(shown) + more == 150  # every partition: shown or counted
    upload = fake_slack.wait_for("upload", lambda c: f"{topic}[149]" in c.args.get("content", ""))
    assert all(f"{topic}[{p}]: 0 -> 0" in upload.args["content"] for p in range(150))
    complete = fake_slack.wait_for(
        "files.completeUploadExternal", lambda c: c.args.get("thread_ts") == msg.response["ts"]
    )
    assert complete.args.get("channel_id") == "CWIDE"


def test_blocks_refused_through_response_url_arrive_as_escaped_text(lbot, fake_slack):
    fake_slack.not_in_channel.add("CFAIL8")
    fake_slack.fail(
        "response_url", "invalid_blocks", status=400, times=5, when=lambda a: a.get("rid") == "rb8" and "blocks" in a
    )
    cmd(lbot, fake_slack, "check kafka-lag --group <!here>", rid="rb8", channel="CFAIL8")
    got = fake_slack.wait_for(
        "response_url",
        lambda c: (
            c.args.get("rid") == "rb8" and "consumer group" in c.args.get("text", "") and not c.response.get("failed")
        ),
    )
    assert "<!here>" not in got.args["text"] and "&lt;!here&gt;" in got.args["text"]
    no_traceback(lbot)


def test_response_url_errors_are_retried_too(lbot, fake_slack):
    fake_slack.fail("response_url", status=503, body="upstream busy", when=lambda a: a.get("rid") == "rr9")
    status, _, _ = cmd(lbot, fake_slack, "incident show 424242", rid="rr9")
    assert status == 200
    fake_slack.wait_for("response_url", lambda c: c.args.get("rid") == "rr9" and not c.response.get("failed"))
