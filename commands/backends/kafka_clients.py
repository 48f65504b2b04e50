"""aiokafka clients started and closed together, every connection they open closed.

aiokafka's bootstrap drops the connection it is asking for metadata on, unclosed, when it is
cancelled there (a check's deadline, an asker's cancel, `asyncio.wait_for`), and a `stop()`
cut short by a timeout or a second cancel leaves the rest open: each is found later by the
garbage collector ("Unclosed AIOKafkaConnection" in the bot's log) or never. So a start runs
in a task of its own that a cancel does not interrupt (aiokafka bounds it by its
`request_timeout_ms`), and closing waits for a start still running, closes each client, then
closes whatever connection is left; a closing interrupted by a cancel finishes in its task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

_CLOSING: set[asyncio.Future[None]] = set()  # closings whose caller was cancelled, still running


class Clients:
    """`clients` (AIOKafkaAdminClient, AIOKafkaConsumer, ...) started in order and closed together.

    `timeout_s` bounds each start and each close; `call(what, awaitable)` is the caller's own
    bounded call (it raises the caller's errors)."""

    def __init__(self, *clients: Any, timeout_s: float) -> None:
        self.clients = clients
        self.timeout_s = timeout_s
        self._starts: list[asyncio.Future[Any]] = []
        self._closing: asyncio.Future[None] | None = None

    async def start(self, call: Callable[[str, Awaitable[Any]], Awaitable[Any]]) -> None:
        """Start every client; on any failure or cancel, close them all before raising (a start
        still running, given up on by `call`'s timeout or a cancel, is closed when it ends,
        in a task of its own: the caller's error is not delayed)."""
        try:
            for client in self.clients:
                started = asyncio.ensure_future(client.start())
                self._starts.append(started)
                await call("connect", asyncio.shield(started))
        except BaseException:
            closing = self._begin_close()
            if all(s.done() for s in self._starts):
                await asyncio.shield(closing)
            raise

    async def close(self) -> None:
        """Close every client and every connection; idempotent. A cancel of the caller meanwhile
        raises at once, and the closing finishes in its own task."""
        await asyncio.shield(self._begin_close())

    def _begin_close(self) -> asyncio.Future[None]:
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
            _CLOSING.add(self._closing)
            self._closing.add_done_callback(_CLOSING.discard)
        return self._closing

    async def _close(self) -> None:
        pending = [s for s in self._starts if not s.done()]
        if pending:  # let aiokafka finish (or fail) its start, so it knows every connection it made
            await asyncio.wait(pending, timeout=2 * self.timeout_s + 1)
            for s in pending:
                s.cancel()
        for s in self._starts:  # retrieved: an abandoned start's error is not "never retrieved"
            if s.done() and not s.cancelled():
                s.exception()
        for client in reversed(self.clients):
            closer = getattr(client, "stop", None) or client.close
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(closer(), self.timeout_s)
        for client in self.clients:  # what a close cut short by its timeout left open
            for conn in list(getattr(client._client, "_conns", {}).values()):
                conn.close()
