"""CPU work off the event loop, and deadlines that really end it.

The bot's event loop acks Slack, answers `/healthz` and renews the escalation lease; it only
waits. Parsing, masking, matching, grouping and rendering run in `off_loop`, on a pool of
worker threads sized to the machine (`WORKERS`, one per core). A step that may take long works
in slices and asks its `Stop` between them: the check's deadline (set by `commands/runner.py`
for the check it runs) or a cancel (the awaiting task was cancelled) ends it at the next slice,
and the step returns what it saw so far. Threads, not processes: the loop takes the GIL back
within Python's switch interval (5 ms), lines need no pickling, and a stop needs no IPC.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

WORKERS = max(2, os.cpu_count() or 2)
SLICE = 500  # lines between two looks at the Stop: ~50 ms of drain3 on a busy core

_pool: ThreadPoolExecutor | None = None
_lock = threading.Lock()
# When the check being run must have answered (time.monotonic() seconds); set by the runner.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("alp_check_deadline", default=None)


def pool() -> ThreadPoolExecutor:
    """The one worker pool (`WORKERS` threads), made on first use."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="alp-cpu")
        return _pool


class Stop:
    """When sliced work must end: at `deadline` (monotonic seconds) or when cancelled."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._cancelled = threading.Event()

    @classmethod
    def before_deadline(cls, margin_s: float = 1.0, share: float = 0.1) -> Stop:
        """A Stop some time before the running check's deadline (`DEADLINE`): `margin_s` or
        `share` of what is left, whichever is larger, so the check still answers in time."""
        deadline = DEADLINE.get()
        if deadline is None:
            return cls()
        left = deadline - time.monotonic()
        return cls(deadline - max(margin_s, share * left))

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def reached(self) -> bool:
        """True once cancelled or past the deadline."""
        return self.cancelled or (self.deadline is not None and time.monotonic() >= self.deadline)


async def off_loop(fn: Callable[..., T], *args: object, stop: Stop | None = None) -> T:
    """`fn(*args)` on the worker pool, awaited. Cancelling the caller cancels `stop` (the step
    ends at its next slice) and raises CancelledError at once; the loop never waits for `fn`."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args)
    try:
        return await loop.run_in_executor(pool(), call)
    except asyncio.CancelledError:
        if stop is not None:
            stop.cancel()
        raise
