"""What this process last showed in each message it keeps up to date (an incident's announcement,
an alert group's message, a report marked superseded), so that a re-rendering that changes nothing
is not sent again (#29).

Several changes re-render the same message from the same state: a verdict recorded on resolve and
the resolve's own owed update; the checklist's update after it; the announcement's ts recorded
(a new version, the same rendering). Each `chat.update` counts against Slack's rate limit (Tier 3,
about 50 a minute per workspace, and about one message a second per channel), so an unchanged one
is dropped here, at the one place these messages are updated (`update`).

Only this process' own updates are remembered (a bounded map, in memory): after a restart the first
update of a message is sent once, and an update another replica made is never assumed. The state
an incident message renders only moves forward (each change a new version), so a rendering equal
to this process' last one cannot hide a newer one sent by another replica in between."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

KEPT = 4096  # messages remembered (the oldest forgotten first): a few hundred bytes each


def digest(text: str, blocks: list[dict[str, Any]] | None) -> str:
    """A message's content (text and blocks) as one SHA-256 hex digest."""
    raw = json.dumps([text, blocks or []], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class Shown:
    """(channel, ts) -> the digest of what this process last sent there, at most `kept` messages."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._last: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.skipped = 0  # updates not sent because they changed nothing (for tests and logs)

    def same(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None) -> bool:
        """True when `text` and `blocks` are what this process last sent to message `ts`."""
        return self._last.get((channel, ts)) == digest(text, blocks)

    def sent(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None) -> None:
        """Message `ts` in `channel` now shows `text` and `blocks` (posted or updated by this process)."""
        self._last[(channel, ts)] = digest(text, blocks)
        self._last.move_to_end((channel, ts))
        while len(self._last) > self.kept:
            self._last.popitem(last=False)

    async def update(
        self, client: AsyncWebClient, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> bool:
        """`chat.update` of message `ts` unless it already shows this; True if sent. Slack's
        errors are raised (`message_not_found` for one deleted), and nothing is remembered then."""
        if self.same(channel, ts, text, blocks):
            self.skipped += 1
            return False
        kw: dict[str, Any] = {"blocks": blocks} if blocks is not None else {}
        await client.chat_update(channel=channel, ts=ts, text=text, **kw)
        self.sent(channel, ts, text, blocks)
        return True
