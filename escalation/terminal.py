"""A notifier for the terminal `alp`: it says what happened; the bot announces and pages."""

from __future__ import annotations

import sys

from commands.masking.redact import redact
from escalation.ladder.pages import Page
from escalation.model import Incident, Rung


class TerminalIncidentNotifier:
    leaves_slack_to_the_bot = True  # what a change owes in Slack (update, thread line) the bot's leader posts

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        return None  # the running bot announces it in Slack (its "announce" timer)

    async def find_announcement(self, inc: Incident) -> tuple[str, str] | None:
        return None

    async def refresh(self, inc: Incident) -> None:
        return None

    async def page(self, inc: Incident, step: Rung, page: Page) -> None:
        print(page.text(), file=sys.stderr)

    async def already_paged(self, inc: Incident, step: Rung, page: Page) -> bool:
        return False

    async def say(self, inc: Incident, text: str, quote: str = "") -> None:
        print(f"{inc.ref}: {text}{redact(quote)}", file=sys.stderr)

    async def already_said(self, inc: Incident, text: str) -> bool:
        return False

    async def specialists(self, inc: Incident, channels: list[str]) -> None:
        print(f"{inc.ref}: specialists to involve: {', '.join(channels)}", file=sys.stderr)

    async def checklist(self, inc: Incident) -> None:
        print(f"{inc.ref} resolved. Recovery checklist:", file=sys.stderr)
        for item, done in inc.checklist.items():
            print(f"  [{'x' if done else ' '}] {item}", file=sys.stderr)
