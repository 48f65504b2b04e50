"""Driving a running bot as Slack does (signed slash commands and clicks over HTTP) and reading what
it sent to the fake Slack."""

from __future__ import annotations

import html
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from tests.support.bot_env import SIGNING_SECRET
from tests.support.processes import BotProcess
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_fake import FakeSlack


def post(bot: BotProcess, body: str, headers: dict[str, str]) -> tuple[int, str, float]:
    """POST to /slack/events; returns status, body and seconds taken."""
    req = urllib.request.Request(f"{bot.url}/slack/events", data=body.encode(), headers=headers)
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), time.monotonic() - t0
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), time.monotonic() - t0


def command(bot: BotProcess, slack: FakeSlack, text: str, **kw: str) -> tuple[int, str, float]:
    body = slash_command(text, slack.response_url("r1"), **kw)
    return post(bot, body, signed_headers(SIGNING_SECRET, body))


def get(bot: BotProcess, path: str) -> tuple[int, str]:
    with urllib.request.urlopen(f"{bot.url}{path}", timeout=15) as resp:
        return resp.status, resp.read().decode()


def blocks_text(blocks: list[dict]) -> str:
    """The blocks as JSON text, `&amp;`/`&lt;`/`&gt;` shown as Slack shows them."""
    return html.unescape(json.dumps(blocks, ensure_ascii=False))


def click(bot, body: str, retry: int | None = None):  # type: ignore[no-untyped-def]
    headers = signed_headers(SIGNING_SECRET, body)
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return post(bot, body, headers)


def confirmation(fake_slack, what: str):  # type: ignore[no-untyped-def]
    """The confirmation message for `what`, and its Confirm/Cancel button values."""
    msg = fake_slack.wait_for("chat.postMessage", lambda c: c.args.get("text", "") == f"Confirm: {what}")
    buttons = {e["action_id"]: e["value"] for b in msg.args["blocks"] if b["type"] == "actions" for e in b["elements"]}
    return msg, buttons


def updated(fake_slack, msg, text: str):  # type: ignore[no-untyped-def]
    return fake_slack.wait_for(
        "chat.update",
        lambda c: (
            c.args.get("ts") == msg.response["ts"]
            and text in blocks_text(c.args.get("blocks", [])) + c.args.get("text", "")
        ),
    )


def announced(fake_slack, summary: str):  # type: ignore[no-untyped-def]
    """The announcement of the incident whose summary is `summary`, and its number."""
    msg = fake_slack.wait_for(
        "chat.postMessage",
        lambda c: (
            summary in c.args.get("text", "") and "INC-" in c.args.get("text", "") and not c.args.get("thread_ts")
        ),
    )
    return msg, int(re.search(r"INC-(\d+)", msg.args["text"]).group(1))


SLACK_ACK_BUDGET_S = 3.0


def in_background(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out
