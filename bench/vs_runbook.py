"""alp in a terminal against the runbook's own commands, side by side: wall and CPU seconds, load.

`python -m bench.vs_runbook [--pairs N] [--group G] [--service S]` (the test bed up; the demo
world seeded, `scripts/testbed demo`, for the service's pods and logs). Each pair runs the
runbook's command, then alp's, alternately, so both meet the same machine:

- kafka-lag: `kafka-consumer-groups.sh --describe --group G` (the JVM tool, from the bed's jars)
  vs `alp --json check kafka-lag --group G` (the shared history when a bot samples, else samples now);
- logs: `kubectl logs -l app=S -n NS --tail=N | grep -i error` vs `alp --json logs S --grep error --tail N`;
- redis: `redis-cli ping; redis-cli info stats; redis-cli info memory` vs `alp --json check redis`.

CPU is the children's user+system (`resource.getrusage(RUSAGE_CHILDREN)`), for a pipeline all its
processes; load is the 1-minute average before each run. The ratio is runbook / alp (above 1: alp
costs less). A machine this busy makes wall times mostly waiting for a core: compare the CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time

from bench.common import ROOT, testbed_env


def timed(cmd: list[str] | str, env: dict[str, str]) -> tuple[float, float, float, int]:
    """(load, wall s, CPU s, exit code) of one command (a string runs in sh: a pipeline)."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    rc = subprocess.run(cmd, shell=isinstance(cmd, str), cwd=ROOT, env=env, capture_output=True, timeout=120).returncode
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return load, wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), rc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--group", default="user-service", help="a consumer group (the demo's: user-service)")
    ap.add_argument("--service", default="auth-service", help="pods labelled app=SERVICE (the demo's)")
    ap.add_argument("--tail", type=int, default=1000)
    ap.add_argument("--only", choices=["kafka-lag", "logs", "redis"], action="append")
    args = ap.parse_args()
    tb = testbed_env()
    env = {**os.environ, **tb}
    ns = tb.get("ALP_NAMESPACE", "adaptive-learning-production")
    alp = [sys.executable, "-m", "bot.cli", "--json"]
    java = ["java", "-Xshare:auto", "-cp", f"{tb['ALP_KAFKA_HOME']}/libs/*"]
    redis_cli = f"redis-cli -u {tb['ALP_REDIS_URL']}"
    pairs = {
        "kafka-lag": (
            [
                *java,
                "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                "--bootstrap-server",
                tb["ALP_KAFKA_BOOTSTRAP"],
                "--describe",
                "--group",
                args.group,
            ],
            [*alp, "check", "kafka-lag", "--group", args.group],
        ),
        "logs": (
            f"kubectl logs -l app={args.service} -n {ns} --tail={args.tail} | grep -i error",
            [*alp, "logs", args.service, "--grep", "error", "--tail", str(args.tail)],
        ),
        "redis": (
            f"{redis_cli} ping && {redis_cli} info stats && {redis_cli} info memory",
            [*alp, "check", "redis"],
        ),
    }
    print(f"{os.cpu_count()} cores; {args.pairs} pairs each; ratio = runbook / alp")
    print("| what | side | load | wall s | CPU s | exit |")
    print("|---|---|---|---|---|---|")
    for what, (runbook, ours) in pairs.items():
        if args.only and what not in args.only:
            continue
        rows: dict[str, list[tuple[float, float, float, int]]] = {"runbook": [], "alp": []}
        for _ in range(args.pairs):
            for side, cmd in (("runbook", runbook), ("alp", ours)):
                r = timed(cmd, env)
                rows[side].append(r)
                print(f"| {what} | {side} | {r[0]:.1f} | {r[1]:.2f} | {r[2]:.2f} | {r[3]} |", flush=True)
        wall = statistics.median(r[1] for r in rows["runbook"]) / statistics.median(r[1] for r in rows["alp"])
        cpu = statistics.median(r[2] for r in rows["runbook"]) / statistics.median(r[2] for r in rows["alp"])
        print(f"| {what} | **ratio (medians)** | | **{wall:.2f}x** | **{cpu:.2f}x** | |", flush=True)


if __name__ == "__main__":
    main()
