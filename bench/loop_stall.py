"""How long the event loop stalls while `alp logs` masks, filters and groups N lines, and what it costs.

`python -m bench.loop_stall [LINES] [--grep PATTERN]`

Side by side in one process, alternately, three pairs: "inline" masks, filters (Python `re`)
and groups on the event loop, as `alp logs` did before issue #23; "off the loop" is
`commands.logs.groups.digest` in a worker process (`commands.runtime.cpu.off_process`), RE2 for `--grep`.
Meanwhile a ticker on the loop asks for a 10 ms sleep over and over; its worst lateness is what
`/healthz`, an ack or a lease renewal would have waited. CPU seconds (the process's, all
threads) beside wall seconds; the machine's load (1-minute average) before each run. No test
bed needed: the lines are made here (tests/support/log_lines.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from collections.abc import Awaitable, Callable

from commands.logs.groups import digest, group_lines, split_timestamp
from commands.masking.redact import redact
from commands.runtime.cpu import Cutoff, off_process, warm
from tests.support.log_lines import varied_lines


def inline(texts: list[tuple[str, str]], grep: str | None) -> int:
    """Before #23: every line masked, filtered with Python's re and grouped, on the calling thread."""
    rx = re.compile(grep, re.I) if grep else None
    lines = []
    for source, text in texts:
        for line in text.splitlines():
            when, msg = split_timestamp(line)
            msg = redact(msg)
            if rx is None or rx.search(msg):
                lines.append((source, when, msg))
    return len(group_lines(lines))


def workers_cpu() -> float:
    """CPU seconds (user+system) the worker processes have used so far (Linux /proc)."""
    from commands.runtime.cpu import processes

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in list(processes()._processes or {}):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def measured(work: Callable[[], Awaitable[int]]) -> tuple[int, float, float, float]:
    """(templates, wall s, CPU s, worst loop lateness s) of `work` with a 10 ms ticker beside it."""
    worst = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal worst
        while not done.is_set():
            t0 = time.monotonic()
            await asyncio.sleep(0.01)
            worst = max(worst, time.monotonic() - t0 - 0.01)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    w0, c0, k0 = time.monotonic(), time.process_time(), workers_cpu()
    templates = await work()
    wall, cpu = time.monotonic() - w0, time.process_time() - c0 + workers_cpu() - k0
    done.set()
    await tick
    return templates, wall, cpu, worst


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lines", nargs="?", type=int, default=50_000)
    ap.add_argument("--grep", default=None)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    per = 10_000
    texts = [(f"pod-{i}/app", varied_lines(i, per)) for i in range(max(1, args.lines // per))]
    n = sum(t.count("\n") for _, t in texts)

    async def on_loop() -> int:
        return inline(texts, args.grep)

    async def off() -> int:
        return len((await off_process(digest, texts, args.grep, Cutoff())).groups)

    await off_process(warm)  # as alp-bot does at start: the workers are up before the first check
    print(f"{n} lines, --grep {args.grep!r}, {os.cpu_count()} cores; CPU s: the bot's process and its workers")
    print("| run | load (1 min) | templates | wall s | CPU s | worst loop stall |")
    print("|---|---|---|---|---|---|")
    for _ in range(args.pairs):
        for name, work in (("inline (before)", on_loop), ("off the loop (after)", off)):
            load = os.getloadavg()[0]
            templates, wall, cpu, worst = await measured(work)
            print(f"| {name} | {load:.1f} | {templates} | {wall:.2f} | {cpu:.2f} | {worst * 1000:.0f} ms |")


if __name__ == "__main__":
    asyncio.run(main())
