"""How the engine reaches people. The Slack implementation lives in bot/ (escalation never
imports Slack); tests and the terminal can use their own."""

from __future__ import annotations

from typing import Protocol

from escalation.ladder.pages import Page
from escalation.model import Incident, Rung


class Notifier(Protocol):
    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        """Post the incident with its buttons; return (channel, ts) of the message."""

    async def find_announcement(self, inc: Incident) -> tuple[str, str] | None:
        """(channel, ts) of the incident's announcement if an earlier attempt posted it (its process
        died before recording where), else None: looked for before any announcement that follows another."""

    async def refresh(self, inc: Incident) -> None:
        """Update the announcement in place (status, who acked, next page)."""

    async def page(self, inc: Incident, step: Rung, page: Page) -> None:
        """Mention the on-call in the incident's thread and DM them. Raise on failure."""

    async def already_paged(self, inc: Incident, step: Rung, page: Page) -> bool:
        """Whether this page is already where `page` puts it (an earlier attempt may have posted it
        before its process died): looked for before any attempt that follows another."""

    async def say(self, inc: Incident, text: str, quote: str = "") -> None:
        """A short line in the incident's thread: `text` is the bot's own (its mentions of people
        are live), `quote` foreign words shown after it as text (a note, a pager's error body)."""

    async def already_said(self, inc: Incident, text: str) -> bool:
        """Whether the line `say(inc, text)` posts is already in the incident's thread (an earlier
        attempt may have posted it before its process died): looked for before any attempt that
        follows another."""

    async def specialists(self, inc: Incident, channels: list[str]) -> None:
        """Tell specialist teams' channels about the incident."""

    async def checklist(self, inc: Incident) -> None:
        """Post the recovery checklist with its checkboxes."""
