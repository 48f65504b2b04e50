"""`alp check kafka-lag` vs the runbook's `kafka-consumer-groups --describe --all-groups`.

Sets up ~20 consumer groups x 12 partitions with known lag on the test bed's broker, then
times both tools as an engineer would run them (whole process, cold start), checks that
they report the same lag per group and partition, and prints the ratio.
Run: scripts/testbed up && .venv/bin/python -m bench.kafka_lag_vs_cli [groups] [runs]
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

from bench.common import ROOT, testbed_env
from tests.kafka_helpers import commit, create_topic, produce

PARTITIONS = 12


async def setup(bootstrap: str, groups: int) -> tuple[str, dict[tuple[str, int], int]]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    await create_topic(bootstrap, topic, PARTITIONS)
    await produce(bootstrap, topic, {p: 40 for p in range(PARTITIONS)})
    expected = {}
    for g in range(groups):
        group = f"{topic}-g{g:02d}"
        offsets = {p: (g + p) % 40 for p in range(PARTITIONS)}
        await commit(bootstrap, group, topic, offsets)
        expected.update({(group, p): 40 - o for p, o in offsets.items()})
    return topic, expected


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    return time.perf_counter() - t0, out.stdout


def main() -> None:
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    tb = testbed_env()
    bootstrap = tb["ALP_KAFKA_BOOTSTRAP"]
    topic, expected = asyncio.run(setup(bootstrap, groups))
    env = {**os.environ, **tb, "ALP_KAFKA_LAG__SAMPLES": "2", "ALP_KAFKA_LAG__INTERVAL_S": "0"}
    alp = [sys.executable, "-m", "bot.cli", "--json", "check", "kafka-lag"]
    java = [
        "java",
        "-Xshare:auto",
        "-cp",
        f"{tb['ALP_KAFKA_HOME']}/libs/*",
        "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
        "--bootstrap-server",
        bootstrap,
        "--describe",
        "--all-groups",
    ]

    alp_times, cli_times = [], []
    for _ in range(runs):
        t, out = timed(alp, env)
        alp_times.append(t)
        got = {
            (g["group"], p["partition"]): p["lag"]
            for g in json.loads(out)["data"]["groups"]
            if g["group"].startswith(topic)
            for p in g["partitions"]
        }
        t2, out2 = timed(java, env)
        cli_times.append(t2)
        cli = {}
        for line in out2.splitlines():
            cols = line.split()
            if len(cols) >= 6 and cols[0].startswith(topic) and re.fullmatch(r"\d+", cols[2]):
                cli[(cols[0], int(cols[2]))] = int(cols[5])
        assert got == expected, "alp disagrees with the lag that was created"
        assert cli == expected, "kafka-consumer-groups disagrees with the lag that was created"

    a, c = statistics.median(alp_times), statistics.median(cli_times)
    print(
        f"{groups} groups x {PARTITIONS} partitions, {runs} runs each, same lag from both "
        f"({len(expected)} partitions checked)"
    )
    print(f"alp check kafka-lag (2 samples, 0s apart):   median {a:.2f}s  runs {[round(x, 2) for x in alp_times]}")
    print(f"kafka-consumer-groups --describe --all-groups: median {c:.2f}s  runs {[round(x, 2) for x in cli_times]}")
    print(f"ratio (runbook tool / alp): {c / a:.1f}x")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
