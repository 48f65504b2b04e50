"""A clock that runs with the wall clock plus whatever a test `advance`s it by: a step or an expiry
falls due at once instead of after real seconds. Parts that do not take it (the state store's
database defaults, the pager's retries) keep the wall clock; they only ever see times behind it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self) -> None:
        self.ahead_s = 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.ahead_s)

    def advance(self, seconds: float) -> None:
        self.ahead_s += seconds

    def set(self, at: datetime) -> FakeClock:
        """Runs from `at` on (a test's simulated day, past or future)."""
        self.ahead_s = (at - datetime.now(UTC)).total_seconds()
        return self

    async def sleep(self, seconds: float) -> None:
        """Until this clock has moved `seconds` (real time or `advance`, whichever comes first)."""
        end = self.now() + timedelta(seconds=seconds)
        while (left := (end - self.now()).total_seconds()) > 0:
            await asyncio.sleep(min(left, 0.02))
