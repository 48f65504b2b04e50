"""How late escalation pages fire relative to their due time, and after a restart.

N incidents (P1, first page after 2 s, then 1 s per step) on a SQLite state store, with a
notifier that answers at once and a local pager sink; prints p50/p99/max of (timer fired -
due time). Then: open M incidents, stop the engine before their steps fall due, wait, start
a new engine on the same store, and report how soon after the start the overdue steps fired.
Run: .venv/bin/python -m bench.escalation_lateness [N] [M]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time

from bench.common import summary
from escalation.config import EscalationSettings
from escalation.engine import Escalator
from escalation.model import Priority
from escalation.store import Store
from tests.test_escalation import Recorder


def cfg() -> EscalationSettings:
    return EscalationSettings(
        p1_first_page_s=2, step_wait_s=1, ack_timeout_s=0, page_retries=0, leader_poll_s=0.5, pager_webhook_url=None
    )


async def steady(n: int, url: str) -> None:
    rec = Recorder()
    eng = Escalator(Store(url), cfg(), rec, url)
    await eng.start()
    t0 = time.perf_counter()
    for i in range(n):
        await eng.open(Priority.P1, f"bench {i}", "", [], "C1", "U1")
    opened = time.perf_counter() - t0
    deadline = time.monotonic() + 60
    while len(eng.lateness) < 3 * n and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    print(f"{n} incidents opened in {opened:.2f}s; {len(eng.lateness)} steps fired (primary, secondary, manager each):")
    print(f"  lateness vs due time: {summary(eng.lateness)}")
    await eng.stop()


async def restart(m: int, url: str) -> None:
    rec = Recorder()
    first = Escalator(Store(url), cfg(), rec, url)
    await first.start()
    for i in range(m):
        await first.open(Priority.P1, f"restart {i}", "", [], "C1", "U1")
    await first.stop()  # down before any step is due
    await asyncio.sleep(4)  # primary (2 s) and secondary (3 s) fall due meanwhile
    second = Escalator(Store(url), cfg(), Recorder(), url)
    started = time.time()
    await second.start()
    deadline = time.monotonic() + 60
    while len(second.lateness) < 3 * m and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    overdue = [fired - started for due, fired in second.fired if due < started]
    on_time = [max(0.0, fired - due) for due, fired in second.fired if due >= started]
    print(f"after a restart with {m} incidents whose first step fell due while down: {len(second.fired)} steps fired")
    print(f"  overdue steps, fired after the engine started: {summary(overdue)}")
    print(f"  later steps, lateness vs due time:              {summary(on_time)}")
    pages = sum(len(second.store.pages_of(i.id)) for i in second.store.incidents(open_only=False, limit=10_000))
    print(f"  pages recorded: {pages} for {3 * m} steps (each step paged once)")
    await second.stop()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    with tempfile.TemporaryDirectory() as d:
        asyncio.run(steady(n, f"sqlite:///{d}/steady.db"))
        asyncio.run(restart(m, f"sqlite:///{d}/restart.db"))


if __name__ == "__main__":
    main()
