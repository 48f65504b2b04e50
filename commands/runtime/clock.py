"""The clock the escalation ladder and the remediation flow read: `now()` (aware UTC) and `sleep()`.

Handed in at construction (`Escalator`, `Store`, `RemediationFlow`), the system's by default, so a
test advances a fake clock to see a step or an expiry fall due instead of sleeping real seconds
(tests/support/clock.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The time now, aware, in UTC."""

    async def sleep(self, seconds: float) -> None:
        """Return once `seconds` have passed on this clock."""


class SystemClock:
    """The wall clock and asyncio's sleep."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
