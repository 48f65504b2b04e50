"""An incident's verdicts as its messages show them (bot/render/verdict_blocks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.render.blocks import section
from bot.render.verdict_blocks import marked_by, superseded_report, verdict_blocks
from escalation.model import TimelineEntry

T0 = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


def check(minutes: int, severity: str) -> TimelineEntry:
    at = T0 + timedelta(minutes=minutes)
    data = {
        "target": "external",
        "severity": severity,
        "findings": [f"{severity.upper()}: x"],
        "taken_at": at.isoformat(),
    }
    return TimelineEntry(at=at, actor="alp", kind="check", text="", data=data)


def test_superseded_verdicts_that_say_the_same_are_listed_once():
    """#29 item 1 on a phone: a re-check before each page that finds the same thing again adds no line."""
    t0 = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)

    def verdict(minutes: int, severity: str, why: str) -> TimelineEntry:
        finding = "CRITICAL: 2 backend(s) blocked" if severity == "critical" else "OK: no lock waits"
        at = t0 + timedelta(minutes=minutes)
        data = {
            "target": "deadlocks",
            "severity": severity,
            "findings": [finding],
            "taken_at": at.isoformat(),
            "why": why,
        }
        return TimelineEntry(at=at, actor="alp", kind="check", text="", data=data)

    entries = [verdict(0, "critical", "asked"), verdict(5, "critical", "before paging primary")]
    entries += [verdict(9, "critical", "before paging secondary"), verdict(12, "ok", "after terminate-queries")]
    text = str(verdict_blocks(entries))
    assert "17:12:00Z deadlocks: OK" in text
    assert text.count("CRITICAL") == 1 and "17:09:00Z" in text, text  # the newest of the same verdicts, once


def test_a_report_marked_superseded_says_by_which_verdict_and_a_later_one_replaces_the_banner():
    """#29: the message records which verdict marked it (read back after a restart: not marked again);
    a newer verdict replaces the banner, which still says the remedy buttons were removed."""
    remedy = {"type": "actions", "elements": [{"type": "button", "action_id": "alp_action_request:0"}]}
    report = [section("*external: CRITICAL*"), remedy]
    first, second = check(5, "ok"), check(9, "ok")
    once = superseded_report(report, "external", T0, "critical", first)
    assert marked_by(once, first) and not marked_by(report, first) and not marked_by(once, second)
    assert remedy not in once and "remedy buttons removed" in str(once[0])
    twice = superseded_report(once, "external", T0, "critical", second)
    assert marked_by(twice, second) and not marked_by(twice, first)
    assert len(twice) == len(once) and twice[1:] == once[1:]  # one banner, the report kept below
    assert "17:09:00Z external: OK" in str(twice[0]) and "remedy buttons removed" in str(twice[0])
