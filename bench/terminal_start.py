"""What a terminal run costs: `alp --json check kafka-lag --group G` (or any other words), wall and CPU.

`python -m bench.terminal_start [--before DIR] [--pairs N] -- WORDS...`

Runs `python -m bot.cli WORDS` from this checkout ("after") and, with `--before`, from another
checkout of alp (e.g. a worktree of main: "before"), alternately, N pairs. CPU seconds are the
child's user+system (`resource.getrusage(RUSAGE_CHILDREN)`), beside wall seconds and the machine's
1-minute load before each run. Needs the test bed (its env is read like the tests read it).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from bench.common import ROOT, testbed_env


def run(cwd: str, words: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "bot.cli", *words], cwd=cwd, env=env, capture_output=True, timeout=300)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out.returncode


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=None, help="another checkout of alp to compare with")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("words", nargs="+")
    args = ap.parse_args()
    env = {**os.environ, **testbed_env()}
    sides = [("after", str(ROOT))] + ([("before", args.before)] if args.before else [])
    print(f"`alp {' '.join(args.words)}`")
    print("| side | load (1 min) | wall s | CPU s | exit |")
    print("|---|---|---|---|---|")
    for _ in range(args.pairs):
        for name, cwd in sides:
            load = os.getloadavg()[0]
            wall, cpu, rc = run(cwd, args.words, env)
            print(f"| {name} | {load:.1f} | {wall:.2f} | {cpu:.2f} | {rc} |", flush=True)


if __name__ == "__main__":
    main()
