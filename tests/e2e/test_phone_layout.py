"""Every message kind read on a 390 px phone (#29 item 2): the headline and the one next action on
the first screen, no monospace line wider than the screen.

The running alp-bot, driven by signed requests; the messages as the fake Slack received them,
measured by `tests.support.phone` (what a 390 px screen shows of Block Kit)."""

from __future__ import annotations

import asyncio
import html
import json
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.world.page import render
from tests.support import alertmanager as am
from tests.support.kafka import commit, create_topic, produce
from tests.support.phone import WIDTH, code_widths, first_screen, problems
from tests.support.processes import BotProcess, wait_until
from tests.support.signing import block_action
from tests.support.slack_requests import announced, blocks_text, click, command, confirmation

CHANNEL = "C0PHONE"


@pytest.fixture(scope="module")
def phone_bot(bot: BotProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    routes = [{"match": {"alertname": "~PhoneOAuth.*"}, "check": "external", "priority": "P2", "channel": CHANNEL}]
    env = {
        **bot.env,
        "ALP_STATE_URL": f"sqlite:///{tmp_path_factory.mktemp('phone')}/state.db",
        "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
        "ALP_ALERTMANAGER__ROUTES": json.dumps(routes),
        "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
    }
    proc = BotProcess(env).start()
    yield proc
    proc.stop()


def final(fake_slack, pred) -> dict:  # type: ignore[no-untyped-def]
    """The last version of the first message matching `pred` (its post or its last update)."""
    calls = [c for c in fake_slack.calls if c.method in ("chat.postMessage", "chat.update") and c.response.get("ok")]
    first = next(c for c in calls if pred(c))
    ts = first.response.get("ts") or first.args.get("ts")
    versions = [c for c in calls if c.method == "chat.update" and c.args.get("ts") == ts]
    return (versions[-1] if versions else first).args  # type: ignore[no-any-return]


def check(kind: str, msg: dict, report: dict[str, list[str]], headline: str, button: bool = False) -> None:
    found = problems(msg["blocks"], headline, button)
    if found:
        report[kind] = [*found, "first screen:", *first_screen(msg["blocks"])]


@pytest.mark.slow
def test_every_message_kind_reads_on_a_390px_phone(phone_bot, fake_slack, platform, testbed, unique, tmp_path):  # type: ignore[no-untyped-def]
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]

    async def abandoned() -> None:
        await create_topic(bootstrap, unique, 3)
        await produce(bootstrap, unique, {0: 12, 1: 12, 2: 12})
        await commit(bootstrap, unique, unique, {0: 5, 1: 6, 2: 7})

    asyncio.run(abandoned())
    bad: dict[str, list[str]] = {}

    command(phone_bot, fake_slack, "incident open P1 phone readers cannot log in", channel=CHANNEL)
    msg, n = announced(fake_slack, "phone readers cannot log in")
    page = fake_slack.wait_for(
        "chat.postMessage", lambda c: f"INC-{n} " in c.args.get("text", "") and "paged" in c.args["text"]
    )
    check("page", page.args, bad, f"INC-{n}", button=True)

    command(phone_bot, fake_slack, f"check kafka-lag --group {unique}", channel=CHANNEL)
    lag = fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("channel") == CHANNEL and f"{unique}: STOP" in blocks_text(c.args["blocks"])
    )
    check("report (kafka-lag)", lag.args, bad, f"{unique}: STOP")
    command(phone_bot, fake_slack, "check health", channel=CHANNEL)
    health = fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("channel") == CHANNEL and c.args.get("text", "").startswith("health: ")
    )
    check("report (health)", health.args, bad, "health:")

    value = next(
        e["value"]
        for b in lag.args["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if "reset-offsets" in e["text"]["text"]
    )
    click(phone_bot, block_action("alp_action_request:0", value, user="U0ALICE", channel=CHANNEL))
    confirm, buttons = confirmation(fake_slack, f"reset-offsets group={unique} to=latest")
    check("confirmation", confirm.args, bad, "reset-offsets")
    click(phone_bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0ALICE", channel=CHANNEL))
    approval = fake_slack.wait_for("chat.update", lambda c: c.args.get("text", "").startswith("Approval needed:"))
    check("approval", approval.args, bad, "reset-offsets")

    platform.oauth_status = 503
    try:
        name = f"PhoneOAuthDown{unique}"
        body = am.payload(f"{{}}:{{alertname={name}}}", [{"labels": {"alertname": name}}])
        assert am.post_webhook(phone_bot.url, json.dumps(body).encode(), am.TOKEN)[0] == 200
        wait_until(lambda: am.group_posts(fake_slack, name, CHANNEL), timeout=30)
        time.sleep(1.5)  # its verdict and incident join the message
    finally:
        platform.oauth_status = 200
        group = final(fake_slack, lambda c: name in c.args.get("text", ""))
    check("alert group", group, bad, "answers HTTP 503", button=True)  # the diagnosis, and Acknowledge
    check("announcement", final(fake_slack, lambda c: c.response.get("ts") == msg.response["ts"]), bad, f"INC-{n}")

    assert not bad, json.dumps(bad, indent=1)
    widths = code_widths(health.args["blocks"]) + code_widths(lag.args["blocks"])
    assert all(w <= WIDTH for w in widths), widths
    click(phone_bot, block_action("incident_resolve", str(n), channel=CHANNEL))
    demo_page(
        fake_slack, tmp_path, [f"INC-{n}", f"{unique}: STOP", "authorized person to approve", name, "you are paged"]
    )


def demo_page(fake_slack, tmp_path: Path, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The demo page drawn from the messages the bot sent (scripts/world/page.py): every kind on it,
    foreign text as text; with a headless chromium installed, a 390 px screenshot of it."""
    calls = [{"method": c.method, "args": c.args, "ts": c.response.get("ts")} for c in fake_slack.calls]
    (tmp_path / "slack-calls.jsonl").write_text("".join(json.dumps(c, default=str) + "\n" for c in calls))
    page = tmp_path / "slack.html"
    page.write_text(render(calls))
    text = html.unescape(page.read_text())
    missing = [e for e in expected if e not in text]
    assert not missing, missing
    assert "<script" not in page.read_text().lower()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        return
    shot = tmp_path / "slack.png"
    out = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=390,844",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists(), out.stderr[-2000:]
    png = shot.read_bytes()
    assert png.startswith(b"\x89PNG") and struct.unpack(">II", png[16:24]) == (390, 844)


def test_a_refused_table_block_is_sent_as_key_value_lines(bot, fake_slack, testbed, unique):  # type: ignore[no-untyped-def]
    """A workspace (or Slack's rule of one table a message) refusing the table block: the report is
    sent with the table as wrapping key-value lines, not cut to its text and a file."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]

    async def abandoned() -> None:  # partitions of two topics: wider than a phone's monospace line
        for topic in (f"{unique}-attempts-topic", f"{unique}-progress-topic"):
            await create_topic(bootstrap, topic, 2)
            await produce(bootstrap, topic, {0: 12, 1: 12})
            await commit(bootstrap, unique, topic, {0: 5, 1: 6})

    asyncio.run(abandoned())

    def has_table(args: dict) -> bool:
        return "'type': 'table'" in str(args.get("blocks")) or '"type": "table"' in str(args.get("blocks"))

    fake_slack.fail("chat.update", "invalid_blocks", times=3, when=has_table)
    command(bot, fake_slack, f"check kafka-lag --group {unique}", channel="C0PHONET")
    sent = fake_slack.wait_for(
        "chat.update",
        lambda c: c.args.get("channel") == "C0PHONET" and c.response.get("ok") and "STOP" in c.args.get("text", ""),
    )
    assert [c for c in fake_slack.called("chat.update") if has_table(c.args) and c.response.get("failed")]
    blocks = sent.args["blocks"]
    assert not has_table(sent.args) and "• *" in blocks_text(blocks), blocks_text(blocks)[:2000]
    assert not [w for w in code_widths(blocks) if w > WIDTH]
    assert not [c for c in fake_slack.called("upload") if unique in str(c.args.get("content", ""))[:300]]
