"""An incident's verdicts as its messages show them (bot/render/verdict_blocks.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.render.verdict_blocks import verdict_blocks
from escalation.model import TimelineEntry


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
