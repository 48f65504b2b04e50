"""Is the worker processes' growth a leak or the allocator? `python -m bench.worker_memory [SECONDS]`.

Feeds the bot's worker-process pool (`commands.runtime.cpu.processes()`, forkserver, `WORKERS` processes)
what the soak fed it, in turn: `alp logs` grouping (`digest`, 3,000 varied lines, a new seed each
time), a kafka-lag chart (`lag_chart_png`, 12 groups x 30 points), for SECONDS (45). After each step
the worker reports its RSS, the blocks Python's allocator holds (`sys.getallocatedblocks()`: every
live object, whatever the allocator does with its arenas) and the objects the GC tracks. A leak grows
the blocks and objects with the steps; the allocator's growth (arenas and malloc's heap kept for
reuse, fragmentation) grows RSS with the blocks flat. Prints each worker's first and last figures,
and the growth per step over the second half (after warm-up). No test bed needed.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Any


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def step(kind: str, seed: int) -> tuple[int, str, float, int, int]:
    """In a worker: one step, then (pid, kind, RSS MB, allocated blocks, GC-tracked objects)."""
    if kind == "logs":
        from commands.logs.groups import digest
        from commands.runtime.cpu import Stop
        from tests.support.log_lines import varied_lines

        digest([("svc-0/app", varied_lines(seed, 3_000))], None, Stop())
    else:
        from commands.checks.kafka_lag.chart import lag_chart_png

        now = time.time()
        chart = {f"group-{seed}-{g}": [[now - 30 * i, (seed * g + i) % 97] for i in range(30)] for g in range(12)}
        lag_chart_png({"chart": chart})
    return os.getpid(), kind, _rss_mb(), sys.getallocatedblocks(), len(gc.get_objects())


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 45.0
    from commands.runtime.cpu import WORKERS, processes

    pool = processes()
    rows: dict[int, list[tuple[str, float, int, int]]] = {}
    end = time.monotonic() + seconds
    seed = 0
    while time.monotonic() < end:
        futures = [pool.submit(step, kind, seed + i) for i, kind in enumerate(["logs", "chart"] * WORKERS)]
        seed += len(futures)
        for f in futures:
            pid, kind, rss, blocks, objects = f.result()
            rows.setdefault(pid, []).append((kind, rss, blocks, objects))
    pool.shutdown()
    print(f"{seconds:g}s, load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {seed} steps")
    print(
        "| worker | steps | RSS MB first -> last | blocks first -> last | objects first -> last | per step, 2nd half: RSS KB, blocks, objects |"
    )
    print("|---|---|---|---|---|---|")
    for pid, r in rows.items():
        half = r[len(r) // 2 :]
        n = max(1, len(half) - 1)
        per: Any = (
            (half[-1][1] - half[0][1]) * 1024 / n,
            (half[-1][2] - half[0][2]) / n,
            (half[-1][3] - half[0][3]) / n,
        )
        print(
            f"| {pid} | {len(r)} | {r[0][1]:.1f} -> {r[-1][1]:.1f} | {r[0][2]:,} -> {r[-1][2]:,} | "
            f"{r[0][3]:,} -> {r[-1][3]:,} | {per[0]:+.0f} KB, {per[1]:+.0f}, {per[2]:+.0f} |"
        )


if __name__ == "__main__":
    main()
