"""How many check runs go at once in one process: at most `checks.max_running`
(`ChecksConfig.checks`, `ALP_CHECKS__MAX_RUNNING`); the others wait in arrival order (first in, first
out) and know their place in the line.

A run takes a `Ticket` when it is made (`SLOTS.take`): granted at once while fewer than the bound
run, else queued. Identical asks share one run (`commands/runner.py`), so the bound counts runs, not
commands. Waiting is not part of a check's deadline: it starts when the run does.
"""

from __future__ import annotations

import asyncio
from collections import deque


class Ticket:
    """One run's claim on a slot: `granted` is done once it may run; `place` is its place in the
    line (1: next), 0 once granted."""

    def __init__(self, slots: CheckSlots, granted: asyncio.Future[None]) -> None:
        self._slots = slots
        self.granted = granted

    @property
    def place(self) -> int:
        return self._slots.place(self)

    async def wait(self) -> None:
        """Until the slot is this run's; a cancelled wait leaves the line (or hands the slot on)."""
        try:
            await self.granted
        except asyncio.CancelledError:
            self._slots.leave(self)
            raise

    def release(self) -> None:
        """The run ended: its slot goes to the first in line."""
        self._slots.leave(self)


class CheckSlots:
    """At most `limit` runs at once (the limit each `take` is given: the process's configuration);
    `running`, `queued` and `most` (the most ever running at once) are on /metrics."""

    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.limit = 1
        self._line: deque[Ticket] = deque()
        self._held: set[Ticket] = set()

    @property
    def queued(self) -> int:
        return len(self._line)

    def take(self, limit: int) -> Ticket:
        """A ticket for one run: granted now while fewer than `limit` run and nobody waits, else queued."""
        self.limit = max(1, limit)
        ticket = Ticket(self, asyncio.get_running_loop().create_future())
        self._line.append(ticket)
        self._grant()
        return ticket

    def place(self, ticket: Ticket) -> int:
        try:
            return self._line.index(ticket) + 1
        except ValueError:
            return 0

    def leave(self, ticket: Ticket) -> None:
        if ticket in self._held:
            self._held.discard(ticket)
            self.running -= 1
        elif ticket in self._line:
            self._line.remove(ticket)
        self._grant()

    def _grant(self) -> None:
        for gone in [t for t in self._held if t.granted.get_loop().is_closed()]:
            self._held.discard(gone)  # its loop ended without releasing it (a test's, or a terminal's asyncio.run)
            self.running -= 1
        while self._line and self.running < self.limit:
            ticket = self._line.popleft()
            if ticket.granted.done() or ticket.granted.get_loop().is_closed():
                continue  # cancelled while waiting, or its loop is gone (a test's)
            ticket.granted.set_result(None)
            self._held.add(ticket)
            self.running += 1
            self.most = max(self.most, self.running)


SLOTS = CheckSlots()  # the process's one line of checks (the bot's and the terminal's)
