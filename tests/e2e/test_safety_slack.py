"""Issue #21 through the running bot (signed requests, the fake Slack Web API, the test bed):
secrets of every kind masked in what Slack gets, alert credentials, a page that must be sent
however long the summary, a click without actions, live mentions and markup from foreign text."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import redis

from tests.support import alertmanager as am
from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET, bot_env
from tests.support.k8s_world import PLATFORM, make_pod
from tests.support.kafka import commit, create_topic, produce
from tests.support.processes import BotProcess, wait_until
from tests.support.signing import block_action, interaction, signed_headers
from tests.support.slack_requests import announced, blocks_text, click, command, confirmation, get, post, updated

ZWSP = "\u200b"


@pytest.fixture(scope="module")
def am_bot(testbed, fake_slack, platform, kube_admin, tmp_path_factory) -> Iterator[BotProcess]:  # type: ignore[no-untyped-def]
    """A bot taking Alertmanager's webhook (the alert paths of issue #21)."""
    state = f"sqlite:///{tmp_path_factory.mktemp('am-safety')}/alp-state.db"
    env = {**testbed, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    env |= {"SLACK_API_URL": fake_slack.api_url, **ESCALATION_ENV, **ACTIONS_ENV, "ALP_STATE_URL": state}
    env |= {"ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN, "ALP_ALERTMANAGER__ROUTES": json.dumps(am.ROUTES)}
    env |= {"ALP_ALERTMANAGER__CHANNEL": "C0ALERTDEFAULT", "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0"}
    proc = BotProcess(env).start()
    yield proc
    proc.stop()


def pages_for(fake_slack, ref: str) -> list:  # type: ignore[no-untyped-def]
    return [
        c
        for c in fake_slack.called("chat.postMessage")
        if "you are paged for" in c.args.get("text", "")
        and f"{ref} " in c.args.get("text", "")
        and c.args.get("channel", "").startswith("C")
    ]


def ephemeral(fake_slack, user: str, text: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.postEphemeral", lambda c: c.args.get("user") == user and text in c.args.get("text", "")
    )


def button(call, action_id: str) -> str:  # type: ignore[no-untyped-def]
    return next(
        e["value"]
        for b in call.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


# Secrets of the kinds issue #21 lists, in other spellings than its own; each line's secret is the value.
SECRET_LINES = {
    "INFO slack socket mode with xapp-1-A08ZXCVB12-8812345678901-0f1e2d3c4b5a69788796a5b4c3d2e1f0": "0f1e2d3c4b5a6978",
    "WARN retrying: redis-cli -h redis-master -a 'Sk1pMe-R3dis' --no-auth-warning ping": "Sk1pMe-R3dis",
    'DEBUG sent "AUTH" "progress" "AuthW0rdTw0"': "AuthW0rdTw0",
    "INFO backup: mysqldump -h db -u bk -pDump3rPw app": "Dump3rPw",
    r"ERROR body {\"user\":\"x\",\"secret_key\":\"Jz0nEsc4ped\"}": "Jz0nEsc4ped",
    "INFO POST /token grant=password%26username%3Dbo%26password%3DPerc3ntPw%21": "Perc3ntPw",
    'WARN upstream sent Authorization: Digest username="svc", nonce="x", response="9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"': "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "INFO loaded " + "".join(chr(ord(c) + 0xFEE0) for c in "password") + "=Fu11W1dth": "Fu11W1dth",
    "INFO cfg oauth_endpoint=https://oauth-backup.example.com/authorize": "",  # shown: a URL, no secret
    # round 3: no key name and no known prefix, words between, look-alike letters, a key and its value on two lines
    "INFO sentry: sending to https://5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b@o4507.ingest.sentry.io/99": "5e4d3c2b1a0f9e8d",
    "WARN notify https://discord.com/api/webhooks/1099887766554433221/Wq7Er5Ty3Ui1Op9As7Df5Gh3Jk1Lz9Xc7Vb5Nm3Qw1": "Wq7Er5Ty3Ui1",
    "INFO stripe: verifying with whsec_Lp8Ok6Ij4Uh2Yg0Tf8Rd6Es4Wa2Qz0Xc9V": "Lp8Ok6Ij4Uh2",
    "INFO note: the password for the db is Pr0seW0rd9": "Pr0seW0rd9",
    "INFO loaded \u0440\u0430ssword=Cyr1llicX9": "Cyr1llicX9",
    "ERROR connect failed, api_token:": "",
    "Sp1itTok3nX9": "Sp1itTok3nX9",
    "INFO sshpass -f /run/pw ssh -p 2222 ops@bastion": "",  # shown: a port is no secret
}
PEM_LINES = [
    "INFO tls: loading key",
    "-----BEGIN EC PRIVATE KEY-----",
    "MHcCAQEEIBq7Zt2vYk9QmF3pL8xN1rW5sU4cD6eH0jK2lM4nO6pQoAoGCCqGSM49",
    "AwEHoUQDQgAEx7Yw3Vu5Ts8Rq1Po4Nm6Lk9Ji2Hg5Fe8Dc1Ba4Zy7Xw0Vu3Ts6Rq9",
]


def test_secrets_of_every_kind_are_masked_in_slack_and_the_attached_lines(
    bot, fake_slack, kube_admin, kubelet, cleanup_pods
):  # type: ignore[no-untyped-def]
    lines = [*SECRET_LINES, *PEM_LINES, "INFO tls: key loaded, serving on :8443"]
    make_pod(kube_admin, PLATFORM, "safety-logs-a", "safety-logs-svc")
    cleanup_pods.append((PLATFORM, "safety-logs-a"))
    kubelet.logs[(PLATFORM, "safety-logs-a")] = "\n".join(lines)

    command(bot, fake_slack, "logs safety-logs-svc --since 2h")

    final = fake_slack.wait_for("chat.update", lambda c: "safety-logs-svc" in blocks_text(c.args.get("blocks", [])))
    upload = fake_slack.wait_for("upload", lambda c: "tls: key loaded" in c.args.get("content", ""))
    for shown in (blocks_text(final.args["blocks"]), upload.args["content"]):
        for secret in filter(None, SECRET_LINES.values()):
            assert secret not in shown, secret
        for key_line in PEM_LINES[2:]:
            assert key_line[:16] not in shown
    raw = upload.args["content"]
    assert "oauth_endpoint=https://oauth-backup.example.com/authorize" in raw  # #29.7: a URL is shown
    assert "ssh -p 2222 ops@bastion" in raw
    assert "tls: key loaded, serving" in raw and len(raw.splitlines()) == len(lines)


def _alert_message(fake_slack, name: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.postMessage",
        lambda c: name in json.dumps(c.args.get("blocks", [])) and "FIRING" in c.args.get("text", ""),
    )


def test_alert_labels_and_links_carry_no_credentials_and_say_what_is_cut(am_bot, fake_slack, unique):  # type: ignore[no-untyped-def]
    name = f"Safety{unique}" + "X" * 160  # longer than a header
    labels = {"alertname": name, "service": "user-service", "db_passwd": "AmL4belPw", "api_token": "AmT0kenLbl"}
    labels |= {f"extra_{i:03d}": "v" * 60 for i in range(60)}  # more than a context line holds
    alert = {
        "labels": labels,
        "annotations": {"summary": "primary ``` broken fence"},
        "generatorURL": "https://prom-user:Pr0mPw99@prometheus.example/graph?g0.expr=up&token=GenT0ken77",
    }
    body = json.dumps(am.payload(f"{{}}:{{alertname={name!r}}}", [alert])).encode()
    assert am.post_webhook(am_bot.url, body, am.TOKEN)[0] == 200

    msg = _alert_message(fake_slack, f"Safety{unique}")
    shown = json.dumps(msg.args["blocks"]) + msg.args["text"]
    for secret in ("AmL4belPw", "AmT0kenLbl", "Pr0mPw99", "GenT0ken77"):
        assert secret not in shown, secret
    header = msg.args["blocks"][0]["text"]["text"]
    assert header.endswith("…")
    context = blocks_text(msg.args["blocks"])
    assert "more label(s)" in context and f"Safety{unique}" in context
    texts = [b["text"]["text"] for b in msg.args["blocks"] if b.get("type") == "section" and "text" in b]
    assert all(t.count("```") % 2 == 0 for t in texts), texts  # the annotation's fence is broken, not live


def test_an_incident_with_a_long_summary_is_announced_and_paged(bot, fake_slack):  # type: ignore[no-untyped-def]
    summary = "checkout failing for every region " + " ".join(f"step{i:04d}" for i in range(400))  # ~3,200 chars
    assert len(summary) > 3100
    status, _, _ = command(bot, fake_slack, f"incident open P0 {summary}")
    assert status == 200
    _, n = announced(fake_slack, "checkout failing for every region")
    page = wait_until(lambda: pages_for(fake_slack, f"INC-{n}"), timeout=15)[0]
    shown = blocks_text(page.args["blocks"])
    assert "more characters" in shown and f"/alp incident show {n}" in shown
    assert "Incident Summary" in shown and "Logs and Evidence" in shown


def test_a_click_without_actions_is_refused_clearly_not_a_traceback(bot, fake_slack):  # type: ignore[no-untyped-def]
    for actions in ([], None, [{"value": "1"}], ["x"]):
        payload = {
            "type": "block_actions",
            "user": {"id": "U0ALICE"},
            "channel": {"id": "C0ONCALL"},
            "team": {"id": "T0"},
            "response_url": fake_slack.response_url("x"),
            "actions": actions,
        }
        body = interaction(payload)
        status, text, _ = post(bot, body, signed_headers(SIGNING_SECRET, body))
        assert status == 400 and "action" in text, (actions, status, text)
    assert get(bot, "/healthz")[0] == 200


def test_a_note_mentions_no_one_and_says_when_it_is_long(bot, fake_slack):  # type: ignore[no-untyped-def]
    command(bot, fake_slack, "incident open P2 note safety check")
    announced(fake_slack, "note safety check")
    note = "<!subteam^S0EVERYONE|everyone> <@U0CEO> <!channel> please look " + "x" * 3100 + " END"
    command(bot, fake_slack, f"incident note {note}")  # the channel's open incident
    said = fake_slack.wait_for("chat.postMessage", lambda c: "please look" in c.args.get("text", ""))
    text = said.args["text"]
    for live in ("<!subteam^S0EVERYONE", "<@U0CEO>", "<!channel>"):
        assert live not in text
    assert "&lt;@U0CEO&gt;" in text and "<@U0ALICE>" in text  # the author's mention is the bot's own
    assert "more characters" in text


class _EvilPager(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"upstream said <!subteam^S0ALL|all> <@U0CEO> while running redis-cli -a Pag3rLeak ping"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def evil_pager() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EvilPager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v2/enqueue"
    server.shutdown()


def test_a_pagers_error_body_is_text_and_masked_in_the_thread_and_the_log(
    testbed, fake_slack, platform, evil_pager, tmp_path
):  # type: ignore[no-untyped-def]
    log = tmp_path / "bot.log"
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db")
    env |= {"ALP_ESCALATION__PAGER_WEBHOOK_URL": evil_pager, "ALP_ESCALATION__PAGE_RETRIES": "0"}
    env |= {"ALP_ESCALATION__STEP_WAIT_S": "0.5", "ALP_ESCALATION__PAGE_BACKOFF_S": "0.1"}
    bot = BotProcess(env, log_path=log).start()
    try:
        command(bot, fake_slack, "incident open P0 pager safety check")
        said = fake_slack.wait_for("chat.postMessage", lambda c: "upstream said" in c.args.get("text", ""), timeout=30)
        text = said.args["text"]
        assert "<!subteam^S0ALL" not in text and "<@U0CEO>" not in text and "Pag3rLeak" not in text
        assert "&lt;@U0CEO&gt;" in text
    finally:
        bot.stop()
    assert "Pag3rLeak" not in log.read_text()


def test_triple_backticks_in_a_finding_title_cannot_break_the_code_block(bot, fake_slack, testbed, unique):  # type: ignore[no-untyped-def]
    bootstrap, topic, group = testbed["ALP_KAFKA_BOOTSTRAP"], f"safety-{unique}", f"grp```{unique}"

    async def setup() -> None:
        await create_topic(bootstrap, topic, 1)
        await produce(bootstrap, topic, {0: 50})
        await commit(bootstrap, group, topic, {0: 1})

    asyncio.run(setup())

    command(bot, fake_slack, f"check kafka-lag --group {group} --all")
    final = fake_slack.wait_for("chat.update", lambda c: unique in json.dumps(c.args.get("blocks", [])), timeout=40)
    mrkdwn = [b["text"]["text"] for b in final.args["blocks"] if (b.get("text") or {}).get("type") == "mrkdwn"]
    assert any(unique in t for t in mrkdwn)
    for text in mrkdwn:  # Slack parses these: a fence from the group name would swallow the rest
        assert text.count("```") % 2 == 0, text
    assert f"grp`{ZWSP}`{ZWSP}`{unique}" in json.dumps(final.args["blocks"], ensure_ascii=False)


def test_confirm_and_approve_count_only_in_the_requests_channel(bot, fake_slack, testbed):  # type: ignore[no-untyped-def]
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set("user:other-channel", "1")
    command(bot, fake_slack, "do flush-cache", user="U0ALICE")
    msg, buttons = confirmation(fake_slack, "flush-cache")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE", channel="C0ELSEWHERE"))
    ephemeral(fake_slack, "U0ALICE", "belongs to a request in another channel")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE"))
    waiting = updated(fake_slack, msg, "needs a *second* authorized person")
    approve = button(waiting, "alp_action_approve")
    click(bot, block_action("alp_action_approve", approve, user="U0BOB", channel="C0ELSEWHERE"))
    ephemeral(fake_slack, "U0BOB", "belongs to a request in another channel")
    assert r.get("user:other-channel") == b"1"  # nothing was flushed
    click(bot, block_action("alp_action_cancel", button(waiting, "alp_action_cancel"), user="U0ALICE"))


def test_an_incident_opened_where_the_bot_is_not_is_announced_in_the_incident_channel(bot, fake_slack):  # type: ignore[no-untyped-def]
    fake_slack.not_in_channel.add("C0NOTIN")
    command(bot, fake_slack, "incident open P2 fallback announcement check", channel="C0NOTIN")
    msg = fake_slack.wait_for(  # ALP_ESCALATION__INCIDENT_CHANNEL's default
        "chat.postMessage",
        lambda c: "fallback announcement check" in c.args.get("text", "") and c.args.get("channel") == "incidents",
    )
    shown = blocks_text(msg.args["blocks"])
    assert "incident_ack" in shown and "C0NOTIN" in shown and "/invite @alp" in shown
    command(bot, fake_slack, "incident note fallback thread note", channel="incidents")  # it lives there now
    note = fake_slack.wait_for("chat.postMessage", lambda c: "fallback thread note" in c.args.get("text", ""))
    assert note.args["channel"] == "incidents" and note.args["thread_ts"] == msg.response["ts"]


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing `sock`, or None if it is still open after `seconds`."""
    sock.settimeout(0.2)
    got = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            continue
        if not chunk:
            return got
        got += chunk
    return None


def test_idle_and_slow_http_clients_are_closed_and_the_bot_keeps_answering(testbed, fake_slack, platform, tmp_path):  # type: ignore[no-untyped-def]
    env = bot_env(testbed, fake_slack, platform, f"sqlite:///{tmp_path}/state.db")
    env |= {"ALP_HTTP_IDLE_TIMEOUT_S": "1", "ALP_HTTP_BODY_TIMEOUT_S": "1"}
    bot = BotProcess(env).start()
    try:
        idle = socket.create_connection(("127.0.0.1", bot.port))
        slow_head = socket.create_connection(("127.0.0.1", bot.port))
        slow_head.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        slow_body = socket.create_connection(("127.0.0.1", bot.port))
        slow_body.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\ntoken=")
        assert _closed_within(idle, 5) is not None
        assert _closed_within(slow_head, 5) is not None
        answer = _closed_within(slow_body, 5)
        assert answer is not None and b" 408 " in answer.split(b"\r\n", 1)[0]
        assert get(bot, "/healthz")[0] == 200
    finally:
        bot.stop()
