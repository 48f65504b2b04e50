"""Messages that read at a glance (#29): what was asked is shown, headlines say what was read."""

from __future__ import annotations

import json

import redis

from tests.test_slack import blocks_text, command


def test_the_keys_a_pattern_asked_for_are_shown_not_folded(bot, fake_slack, testbed, unique):  # type: ignore[no-untyped-def]
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set(f"{unique}:1", "x")
    try:
        command(bot, fake_slack, f"check redis --pattern '{unique}:*'")
        final = fake_slack.wait_for(
            "chat.update", lambda c: "redis:" in c.args.get("text", "") and c.args.get("blocks")
        )
        shown = blocks_text(final.args["blocks"])
        assert f"SCAN {unique}:*: 1 key(s)" in shown and f"{unique}:1" in shown, shown
    finally:
        r.delete(f"{unique}:1")


def test_an_ok_headline_says_what_was_read(bot, fake_slack):  # type: ignore[no-untyped-def]
    command(bot, fake_slack, "check external")
    final = fake_slack.wait_for("chat.update", lambda c: "external:" in c.args.get("text", ""))
    text = final.args["text"]
    assert text.startswith("external: OK: 2 checks OK: ") and "DNS" in text, text
    assert "finding(s) OK" not in json.dumps(final.args["blocks"])
