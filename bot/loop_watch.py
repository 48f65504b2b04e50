"""How late the bot's event loop is, and what held it when it stalled.

A 100 ms timer on the loop measures its own lateness: `alp_event_loop_lag_seconds` is the
worst of the last minute, `alp_event_loop_tasks` the asyncio tasks alive (both on `/metrics`,
read by `bench/soak.py`). A watchdog thread beside the loop notices a stall of `STALL_S` or
more while it lasts and logs, once per stall, where the loop's thread is and what every other
busy thread runs at that moment ("event loop stalled ..."): a callback running long on the
loop shows in the loop's own stack, a loop waiting for the GIL in the other threads' stacks.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import threading
import time
import traceback

from prometheus_client import CollectorRegistry, Gauge

log = logging.getLogger(__name__)

TICK_S = 0.1
WINDOW_S = 60.0  # the lag gauge: the worst lateness of this many seconds
STALL_S = 0.5  # a tick this late is a stall worth a log line with the stacks
_IDLE = ("threading.py", "queue.py", "selectors.py", "thread.py")  # a thread waiting for work, not working


def busy_stacks(skip: set[int], frames: int = 4) -> list[str]:
    """`name: innermost frames` of every thread running Python outside a wait, but `skip`."""
    names = {t.ident: t.name for t in threading.enumerate()}
    out = []
    for ident, frame in sys._current_frames().items():
        if ident in skip:
            continue
        stack = traceback.extract_stack(frame)[-frames:]
        if not stack or stack[-1].filename.endswith(_IDLE):
            continue
        where = " <- ".join(f"{f.name} ({f.filename.rsplit('/', 2)[-2:][-1]}:{f.lineno})" for f in reversed(stack))
        out.append(f"{names.get(ident, ident)}: {where}")
    return out


class LoopWatch:
    """The lag timer (`run`, a task on the loop) and the stall watchdog (a daemon thread)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.lags: collections.deque[tuple[float, float]] = collections.deque()  # (when, lateness s)
        self.last_tick = time.monotonic()
        self.stalls = 0
        self._loop_thread = 0
        self._stop = threading.Event()
        Gauge(
            "alp_event_loop_lag_seconds",
            f"Worst lateness of a {TICK_S:g}s timer on the event loop over the last {WINDOW_S:g}s",
            registry=registry,
        ).set_function(self.worst)
        self._tasks = Gauge("alp_event_loop_tasks", "asyncio tasks alive on the event loop", registry=registry)

    def worst(self) -> float:
        return max((lag for _, lag in self.lags), default=0.0)

    async def run(self) -> None:
        self._loop_thread = threading.get_ident()
        loop = asyncio.get_running_loop()
        self._tasks.set_function(lambda: len(asyncio.all_tasks(loop)))
        watchdog = threading.Thread(target=self._watch, name="alp-loop-watch", daemon=True)
        watchdog.start()
        try:
            while True:
                planned = time.monotonic() + TICK_S
                await asyncio.sleep(TICK_S)
                now = self.last_tick = time.monotonic()
                self.lags.append((now, max(0.0, now - planned)))
                while self.lags and self.lags[0][0] < now - WINDOW_S:
                    self.lags.popleft()
        finally:
            self._stop.set()

    def _watch(self) -> None:
        reported = 0.0  # the tick of the stall already reported
        while not self._stop.wait(TICK_S):
            tick = self.last_tick
            late = time.monotonic() - tick - TICK_S
            if late < STALL_S or tick == reported:
                continue
            reported = tick
            self.stalls += 1
            frame = sys._current_frames().get(self._loop_thread)
            on_loop = traceback.extract_stack(frame)[-8:] if frame is not None else []
            loop_at = " <- ".join(f"{f.name} ({f.filename.rsplit('/', 1)[-1]}:{f.lineno})" for f in reversed(on_loop))
            others = busy_stacks({self._loop_thread, threading.get_ident()})
            log.warning(
                "event loop stalled %.2fs: the loop at %s; busy threads (%d): %s",
                late,
                loop_at or "?",
                len(others),
                " | ".join(others) or "none",
            )
