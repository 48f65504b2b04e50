"""Messages that read at a glance (#29): what was asked is shown, headlines say what was read."""

from __future__ import annotations

import json

import redis

from tests.support.slack_requests import blocks_text, command


def test_the_keys_a_pattern_asked_for_are_shown_not_folded(bot, fake_slack, testbed, unique):  # type: ignore[no-untyped-def]
    r = redis.Redis.from_url(testbed["ALP_REDIS_URL"])
    r.set(f"{unique}:1", "x")
    try:
        command(bot, fake_slack, f"check redis --pattern '{unique}:*'")
        final = fake_slack.wait_for(
            "chat.update", lambda c: "redis:" in c.args.get("text", "") and c.args.get("blocks")
        )
        shown = blocks_text(final.args["blocks"])
        # the pattern's `*` is foreign text: kept, wrapped in zero-width spaces so it cannot end the bold title
        assert f"SCAN {unique}:*: 1 key(s)" in shown.replace("\u200b", "") and f"{unique}:1" in shown, shown
        assert f"SCAN {unique}:*:" not in shown
    finally:
        r.delete(f"{unique}:1")


def test_an_ok_headline_says_what_was_read(bot, fake_slack):  # type: ignore[no-untyped-def]
    command(bot, fake_slack, "check external")
    final = fake_slack.wait_for("chat.update", lambda c: "external:" in c.args.get("text", ""))
    text = final.args["text"]
    assert text.startswith("external: OK: 2 checks OK: ") and "DNS" in text, text
    assert "finding(s) OK" not in json.dumps(final.args["blocks"])


def test_help_for_a_command_and_a_typo_are_short_answers():
    import commands.checks  # noqa: F401  (registers the targets)
    from bot.router import help_text, parse
    from commands.params import UsageError

    check = help_text("check")
    assert "Did you mean" not in check and "`kafka-lag`" in check and check.startswith("`/alp check <target>")
    try:
        parse("chek redis")
    except UsageError as err:
        assert "check" in str(err)  # the "did you mean" is the answer


def test_a_typo_is_answered_with_the_closest_words_not_the_whole_help(bot, fake_slack):  # type: ignore[no-untyped-def]
    _, body, _ = command(bot, fake_slack, "chek redis")
    text = json.loads(body)["text"]
    assert "check" in text and len(text) < 600, text


def test_the_changes_line_is_one_quiet_context_line():
    from datetime import UTC, datetime

    from bot.render.report_blocks import render_report
    from commands.report import Finding, Report, Severity

    report = Report(
        target="deadlocks",
        started_at=datetime.now(UTC),
        duration_s=0.1,
        findings=[
            Finding(severity=Severity.CRITICAL, title="2 backend(s) blocked behind pid 812"),
            Finding(severity=Severity.OK, title="1 change(s) in the last hour: auth-config written", probe="changes"),
        ],
    )
    blocks = render_report(report).blocks
    line = [b for b in blocks if "auth-config written" in json.dumps(b)]
    assert len(line) == 1 and line[0]["type"] == "context", line
    assert "*1 change(s)" not in json.dumps(line)  # not bold


def test_a_column_with_one_value_is_lifted_into_the_caption():
    """#29: the namespace repeated on every row of the health table wrapped a phone's screen."""
    from bot.render.report_text import table_lines
    from commands.report import Table

    ns = "adaptive-learning-production"
    table = Table(
        columns=["namespace", "pod", "phase", "ready", "restarts", "reasons"],
        rows=[
            [ns, "user-service-1", "Running", "no", "9", "CrashLoopBackOff"],
            [ns, "ml-service-1", "Pending", "no", "0", "-"],
        ],
    )
    lines = table_lines(table, lift=True)
    assert len(table_lines(table)) == 3
    assert lines[0] == f"namespace: {ns}; ready: no"
    assert sum(ns in line for line in lines) == 1
    assert lines[1].split() == ["pod", "phase", "restarts", "reasons"]
