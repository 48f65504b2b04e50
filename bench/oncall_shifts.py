"""Who is on call, and a year of final shifts, for a schedule of 5 layers and 200 overrides.

(a) `on_call_at` (what a page asks, pure computation), (b) the same through the ladder's path
(`escalation.oncall.paging.resolve`: overrides read from a SQLite state store, computed in a
thread), (c) a year of final shifts (the feed covers 210 days; `check oncall` 14). Wall time and
CPU seconds side by side, and the machine's load. The runbook has no command for this: its
baseline is a fixed handle in the configuration (no computation at all).
Run: .venv/bin/python -m bench.oncall_shifts [RUNS]
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta

from bench.common import summary
from escalation.model import Rung
from escalation.oncall.config import Layer, OncallSettings, Schedule
from escalation.oncall.directory import Directory
from escalation.oncall.overrides import OverrideStore
from escalation.oncall.paging import resolve
from escalation.oncall.shifts import Override, on_call_at, schedule_shifts
from escalation.state.db import Database

START = datetime(2026, 1, 1, tzinfo=UTC)


def schedule() -> Schedule:
    users = [f"U0USER{i:03d}" for i in range(12)]
    return Schedule(
        name="devops",
        time_zone="America/New_York",
        layers=[
            Layer(users=users[:4], turn="1w", handoff="09:00", start=date(2025, 12, 1)),
            Layer(users=users[4:7], turn="1d", handoff="09:00", start=date(2025, 12, 1), days=["sat", "sun"]),
            Layer(users=users[7:9], turn="12h", handoff="08:00", start=date(2025, 12, 1), hours="18:00-08:00"),
            Layer(
                users=users[9:11],
                turn="1w",
                handoff="10:00",
                start=date(2025, 12, 1),
                days=["mon", "tue", "wed", "thu", "fri"],
                hours="09:00-17:00",
            ),
            Layer(
                users=users[11:], turn="2w", handoff="12:00", start=date(2025, 12, 1), days=["fri"], hours="12:00-13:00"
            ),
        ],
    )


def overrides(n: int = 200) -> list[Override]:
    rnd = random.Random(7)
    out = []
    for i in range(n):
        s = START + timedelta(hours=rnd.randrange(0, 365 * 24))
        out.append(Override(i + 1, "devops", f"U0COVER{i % 9}", s, s + timedelta(hours=rnd.choice((2, 4, 8, 24, 48)))))
    return out


def timed(fn, runs: int) -> tuple[list[float], float]:  # type: ignore[no-untyped-def]
    walls = []
    cpu0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return walls, time.process_time() - cpu0


async def through_the_ladder(s: Schedule, over: list[Override], runs: int) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        store = OverrideStore(db)
        for o in over:
            await store.add(o.schedule, o.user, o.start, o.end, "bench")
        directory = Directory(OncallSettings(schedules=[s]), store)
        step = Rung("primary", "@devops-oncall", "slack", 0, (), "devops")
        walls = []
        cpu0 = time.process_time()
        for i in range(runs):
            at = START + timedelta(hours=37 * i)
            t0 = time.perf_counter()
            await resolve(directory, step, at)
            walls.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
        await db.close()
        return walls, cpu


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    s, over = schedule(), overrides()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    ats = [START + timedelta(hours=37 * i) for i in range(runs)]
    it = iter(ats * 2)
    walls, cpu = timed(lambda: on_call_at(s, next(it), over), runs)
    print(f"(a) who is on call (5 layers, 200 overrides), {runs} runs: {summary(walls)}; CPU {cpu:.3f} s")
    walls, cpu = asyncio.run(through_the_ladder(s, over, runs))
    print(f"(b) the ladder's resolve (overrides from SQLite), {runs} runs: {summary(walls)}; CPU {cpu:.3f} s")
    year = max(3, runs // 40)
    walls, cpu = timed(lambda: schedule_shifts(s, START, START + timedelta(days=365), over), year)
    n = len(schedule_shifts(s, START, START + timedelta(days=365), over))
    print(f"(c) a year of final shifts ({n} shifts), {year} runs: {summary(walls)}; CPU {cpu:.3f} s")
    print("baseline (the runbook): a fixed handle in the configuration, no computation")


if __name__ == "__main__":
    main()
