"""What the README and ARCHITECTURE.md name is there: every file of the repository they point a
newcomer to exists, and every Slack header they say the bot honours is read by its code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ("README.md", "ARCHITECTURE.md", "tests/README.md")
# a path into the repository with a file's extension: bot/slack/app.py, tests/support/pagerduty.py
PATH = re.compile(r"(?<![\w/.-])((?:bot|commands|escalation|tests|scripts|bench|deploy|docs)/[\w/.-]*\.[a-z]+)\b")
HEADER = re.compile(r"\bX-Slack-[A-Za-z-]+")


def _code() -> str:
    return "\n".join(p.read_text() for pkg in ("bot", "commands", "escalation") for p in (ROOT / pkg).rglob("*.py"))


def test_every_file_the_docs_name_exists() -> None:
    missing = [
        f"{doc}: {m}"
        for doc in DOCS
        for m in sorted(set(PATH.findall((ROOT / doc).read_text())))
        if not (ROOT / m).exists()
    ]
    assert missing == []


def test_every_slack_header_the_docs_name_is_read_by_the_bot() -> None:
    code = _code().lower()
    unread = [
        f"{doc}: {h}"
        for doc in DOCS
        for h in sorted(set(HEADER.findall((ROOT / doc).read_text())))
        if h.lower() not in code
    ]
    assert unread == []
