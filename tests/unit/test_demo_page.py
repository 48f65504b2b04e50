"""The demo page (scripts/world/page.py): the bot's Block Kit drawn as HTML, foreign text as text."""

from __future__ import annotations

from bot.render.blocks import actions, button, context, header, section
from bot.render.escape import clean
from bot.render.report_blocks import table_block
from commands.report import Table
from scripts.world.page import render

HOSTILE = '<script>alert(1)</script> "quoted" <img src=x onerror=alert(2)>'


def test_messages_are_drawn_as_last_updated_with_their_threads_and_nothing_foreign_is_markup():
    blocks = [
        header("deadlocks: CRITICAL"),
        section(f"*2 backends blocked* on `user_progress`: {clean(HOSTILE)}"),
        actions([button("▶ terminate-queries pids=812", "alp_action_request:0", "v", "danger")]),
        table_block(Table(columns=["pid", "query"], rows=[["812", HOSTILE]])),
        context("read 17:04:10Z"),
    ]
    calls = [
        {"method": "chat.postMessage", "args": {"channel": "C1", "text": "Running…"}, "ts": "1.1"},
        {"method": "chat.update", "args": {"channel": "C1", "ts": "1.1", "text": "x", "blocks": blocks}, "ts": "1.1"},
        {"method": "chat.postMessage", "args": {"channel": "C1", "thread_ts": "1.1", "text": "a reply"}, "ts": "1.2"},
    ]
    page = render(calls)
    assert "Running…" not in page  # the message as last updated
    assert "<b>2 backends blocked</b>" in page and "<code>user_progress</code>" in page
    assert '<button class="danger" data-action="alp_action_request:0">' in page
    assert "<td>812</td>" in page and "a reply" in page
    assert "<script" not in page and "<img" not in page and "&lt;script&gt;" in page
    assert "width: 390px" in page
