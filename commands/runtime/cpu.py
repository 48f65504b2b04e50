"""CPU work off the event loop, and deadlines that really end it.

The bot's event loop acks Slack, answers `/healthz` and renews the escalation lease; it only
waits. Two pools, each sized to the machine (`WORKERS`, one per core):

- `off_loop`: worker threads, for short CPU steps (rendering a report, a probe's grep over its
  bounded tail) and steps that need the bot's objects (a signer, a settings object).
- `off_process`: worker processes (forkserver: started clean, niced so the bot's own process
  wins the cores), for the long steps (`alp logs` over up to 200,000 lines). A thread doing
  pure-Python work holds the GIL; on a busy 2-core machine the loop then waits for it in
  every hand-over, and `/healthz` took over a second. A process shares no GIL with the loop.
  Arguments and results are pickled; the masking of the bot's own secrets
  (`commands.masking.redact.remember`) is handed to each worker when it starts.

The terminal (`alp`, one command, nothing else waiting on its loop) calls `in_threads()`: its
"process" steps run in a worker thread instead, so one answer does not pay for a forkserver and
`WORKERS` interpreters importing the step's modules again (about a CPU second).

A step that may take long works in slices and asks its `Cutoff` between them: the check's
deadline (set by `commands/runner.py` for the check it runs; `time.monotonic` is the same
clock in every process) or, in a thread, a cancel ends it at the next slice, and the step
returns what it saw so far.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

WORKERS = max(2, os.cpu_count() or 2)
SLICE = 500  # lines between two looks at the Cutoff: ~50 ms of drain3 on a busy core

WORKER_NICE = 10  # the worker processes' niceness: the bot's loop comes first on a busy machine

_pool: ThreadPoolExecutor | None = None
_processes: ProcessPoolExecutor | None = None
_lock = threading.Lock()
_threads_only = False  # `in_threads()`: the terminal
# When the check being run must have answered (time.monotonic() seconds); set by the runner.
DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("alp_check_deadline", default=None)


def pool() -> ThreadPoolExecutor:
    """The one worker pool (`WORKERS` threads), made on first use."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="alp-cpu")
        return _pool


def _start_worker(secrets: list[str]) -> None:
    """In each worker process: lower its priority, know the bot's secrets."""
    try:
        os.nice(WORKER_NICE)
    except OSError:
        pass
    from commands.masking.redact import remember

    remember(*secrets)


def in_threads() -> None:
    """This process runs one command and nothing waits on its loop (the terminal): `off_process`
    and `in_process` run their step in this process (a worker thread) instead of a worker process."""
    global _threads_only
    _threads_only = True


def processes() -> ProcessPoolExecutor:
    """The one pool of worker processes (`WORKERS`), made on first use."""
    global _processes
    with _lock:
        if _processes is None:
            from commands.masking import redact

            secrets = sorted(getattr(redact, "_known", ()))  # what `remember` was told in this process
            _processes = ProcessPoolExecutor(
                max_workers=WORKERS,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_start_worker,
                initargs=(secrets,),
            )
        return _processes


class Cutoff:
    """When sliced work must end: at `deadline` (monotonic seconds) or when cancelled."""

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self._cancelled = threading.Event()

    @classmethod
    def before_deadline(cls, margin_s: float = 1.0, share: float = 0.1) -> Cutoff:
        """A Cutoff some time before the running check's deadline (`DEADLINE`): `margin_s` or
        `share` of what is left, whichever is larger, so the check still answers in time."""
        deadline = DEADLINE.get()
        if deadline is None:
            return cls()
        left = deadline - time.monotonic()
        return cls(deadline - max(margin_s, share * left))

    def __reduce__(self) -> tuple[Any, ...]:  # to a worker process: the deadline, not the cancel
        return (Cutoff, (self.deadline,))

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def reached(self) -> bool:
        """True once cancelled or past the deadline."""
        return self.cancelled or (self.deadline is not None and time.monotonic() >= self.deadline)


async def off_loop(fn: Callable[..., T], *args: object, stop: Cutoff | None = None) -> T:
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


async def off_process(fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)` in a worker process, awaited; `fn` and its arguments must pickle. A `Cutoff`
    among the arguments carries its deadline there. Cancelling the caller raises CancelledError
    at once; the worker ends at its deadline."""
    if _threads_only:
        return await asyncio.to_thread(fn, *args)
    # Submitted from a thread: the first submit starts the forkserver and the workers, and
    # pickling the arguments (up to tens of MB of log text) is CPU too.
    future = await asyncio.to_thread(lambda: processes().submit(fn, *args))
    return await asyncio.wrap_future(future)


def in_process(fn: Callable[..., T], *args: object) -> T:
    """From a worker thread (`off_loop`): `fn(*args)` in a worker process, waited for. The thread
    waits without holding the GIL, so the loop is not kept waiting for a long CPU step (matplotlib
    drawing a chart: a third of the GIL's time in a soak of mixed commands)."""
    if _threads_only:
        return fn(*args)
    return processes().submit(fn, *args).result()


def warm() -> int:
    """Nothing, in a worker: `await off_process(warm)` at start-up starts the workers then."""
    return os.getpid()
