"""`alp check kafka-lag` (Slack and terminal) vs the runbook's `kafka-consumer-groups --describe --all-groups`.

Sets up N consumer groups x 12 partitions with known lag on the test bed's broker, starts a
real alp-bot (fake Slack, default settings: its sampler writes the shared history every 30 s,
`window` 10, first sample at start), then times side by side in one run, each as a person
would see it:
- kafka-consumer-groups: the whole JVM process (the runbook's tool);
- Slack: a signed `/alp check kafka-lag` until the bot's answer is posted (history + one fresh sample);
- terminal: the whole `alp check kafka-lag` process, with the bot's history in Redis.
All three must report the lag that was created, per group and partition (asserted).
Also prints the sampling cycle's time and the bot's memory (VmRSS).
Run: scripts/testbed up && .venv/bin/python -m bench.kafka_lag_vs_cli [groups] [runs] [full]
(`full`: first wait until the bot's window is full, about 5 minutes)
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
import urllib.request
import uuid

import redis

from bench.common import ROOT, testbed_env
from tests.support.bot_env import BOT_TOKEN, SIGNING_SECRET
from tests.support.kafka import commit, create_topic, produce
from tests.support.processes import BotProcess
from tests.support.signing import signed_headers, slash_command
from tests.support.slack_fake import FakeSlack

PARTITIONS = 12


async def setup(bootstrap: str, groups: int) -> tuple[str, dict[tuple[str, int], int]]:
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    await create_topic(bootstrap, topic, PARTITIONS)
    await produce(bootstrap, topic, {p: 40 for p in range(PARTITIONS)})
    expected = {}
    sem = asyncio.Semaphore(20)

    async def one(g: int) -> None:
        group = f"{topic}-g{g:04d}"
        offsets = {p: (g + p) % 40 for p in range(PARTITIONS)}
        async with sem:
            await commit(bootstrap, group, topic, offsets)
        expected.update({(group, p): 40 - o for p, o in offsets.items()})

    await asyncio.gather(*(one(g) for g in range(groups)))
    return topic, expected


async def cleanup(bootstrap: str, prefix: str) -> None:
    """Delete the benchmark's groups and topics (prefix `bench-`), so later runs see the broker as it was."""
    from aiokafka.protocol.admin import DeleteGroupsRequest

    from commands.backends.kafka import KafkaProbe

    async with KafkaProbe(bootstrap, 30) as probe:
        groups = [g for g in await probe.group_ids() if g.startswith(prefix)]
        by_node: dict[int, list[str]] = {}
        for g, node in (await probe.coordinators(groups)).items():
            by_node.setdefault(node, []).append(g)
        for node, names in by_node.items():
            for i in range(0, len(names), 200):
                await probe.admin._send_request(DeleteGroupsRequest(names[i : i + 200]), node)
        topics = [t for t in await probe.list_topics() if t.startswith(prefix)]
        if topics:
            await probe.admin.delete_topics(topics)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    return time.perf_counter() - t0, out.stdout


def from_json(body: dict, topic: str) -> dict[tuple[str, int], int]:
    return {
        (g["group"], p["partition"]): p["lag"]
        for g in body["data"]["groups"]
        if g["group"].startswith(topic)
        for p in g["partitions"]
    }


def slack_answer(bot: BotProcess, slack: FakeSlack) -> float:
    """Seconds from a signed /alp check kafka-lag to the bot's posted answer."""
    slack.reset()
    body = slash_command("check kafka-lag", slack.response_url("bench"), user="UBENCH")
    req = urllib.request.Request(
        f"{bot.url}/slack/events", data=body.encode(), headers=signed_headers(SIGNING_SECRET, body)
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
    while not slack.called("chat.update"):
        if time.perf_counter() - t0 > 120:
            raise AssertionError("no answer posted within 120 s")
        time.sleep(0.002)
    return time.perf_counter() - t0


def wait_history(url: str, bootstrap: str, n: int = 1, timeout: float = 600) -> None:
    client = redis.Redis.from_url(url)
    t0 = time.monotonic()
    while client.llen(f"alp:kafka-lag:{bootstrap}:samples") < n:
        if time.monotonic() - t0 > timeout:
            raise AssertionError("the bot wrote no history")
        time.sleep(0.2)


async def sampling_cycles(tb: dict[str, str], n: int) -> list[float]:
    """Seconds per sampling cycle (every group described, offsets fetched, snapshot stored), as the bot's
    sampler runs it, here in this process against a spare Redis database."""
    from commands.backends.kafka import KafkaProbe
    from commands.checks.kafka_lag.history import LagWatcher
    from commands.config import ChecksConfig

    cfg = ChecksConfig(
        kafka_bootstrap=tb["ALP_KAFKA_BOOTSTRAP"], redis_url=tb["ALP_REDIS_URL"].rsplit("/", 1)[0] + "/15"
    )
    watcher = LagWatcher(cfg)
    try:
        async with KafkaProbe(cfg.kafka_bootstrap, cfg.timeouts.probe_s) as probe:
            for _ in range(n):
                assert await watcher.sample_once(probe)
    finally:
        await watcher.lease.release()
        await watcher.redis.delete(watcher.samples_key)
        await watcher.redis.aclose()
    return watcher.cycles


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    return kb / 1024


def main() -> None:
    groups = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    full = len(sys.argv) > 3 and sys.argv[3] == "full"
    tb = testbed_env()
    bootstrap = tb["ALP_KAFKA_BOOTSTRAP"]
    t0 = time.monotonic()
    topic, expected = asyncio.run(setup(bootstrap, groups))
    print(f"set up {groups} groups x {PARTITIONS} partitions in {time.monotonic() - t0:.0f}s")
    env = {k: v for k, v in {**os.environ, **tb}.items() if not k.startswith("ALP_KAFKA_LAG__")}
    # a fresh history, and no lease left by an earlier bot on this test bed (it would sample instead)
    redis.Redis.from_url(tb["ALP_REDIS_URL"]).delete(
        f"alp:kafka-lag:{bootstrap}:samples", f"alp:kafka-lag:{bootstrap}:sampler"
    )
    cycles = asyncio.run(sampling_cycles(tb, 3))
    slack = FakeSlack().start()
    bot_env = {
        **{k: v for k, v in tb.items() if not k.startswith("ALP_KAFKA_LAG__")},
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
    }
    bot = BotProcess(bot_env).start()
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
    try:
        t0 = time.monotonic()
        wait_history(tb["ALP_REDIS_URL"], bootstrap)
        first_cycle = time.monotonic() - t0
        if full:  # steady state: the bot's window is full (10 samples, 30 s apart: 4.5 minutes)
            wait_history(tb["ALP_REDIS_URL"], bootstrap, 10)
        slack_answer(bot, slack)  # warm-up: first request imports and connects
        alp_times, cli_times, slack_times = [], [], []
        for _ in range(runs):
            t, out = timed(java, env)
            cli_times.append(t)
            cli = {}
            for line in out.splitlines():
                cols = line.split()
                if len(cols) >= 6 and cols[0].startswith(topic) and re.fullmatch(r"\d+", cols[2]):
                    cli[(cols[0], int(cols[2]))] = int(cols[5])
            assert cli == expected, "kafka-consumer-groups disagrees with the lag that was created"
            slack_times.append(slack_answer(bot, slack))
            t, out = timed(alp, env)
            alp_times.append(t)
            body = json.loads(out)
            assert from_json(body, topic) == expected, "alp disagrees with the lag that was created"
            assert body["data"]["window"]["source"] == "history", body["data"]["window"]
        memory = rss_mb(bot.proc.pid) if bot.proc else float("nan")
    finally:
        bot.stop()
        slack.stop()
        asyncio.run(cleanup(bootstrap, "bench-"))
    total = len(json.loads(out)["data"]["groups"])
    a, c, s = (statistics.median(x) for x in (alp_times, cli_times, slack_times))
    print(f"{groups} groups x {PARTITIONS} partitions created ({total} groups on the broker), {runs} runs each")
    print(f"history: {'the full window (10 samples)' if full else 'the bot just started (1 sample)'}")
    print("defaults: watch_interval_s=30 window=10 (bot samples at start, then every 30 s); the check adds one sample")
    print(f"kafka-consumer-groups --describe --all-groups: median {c:.2f}s  runs {[round(x, 2) for x in cli_times]}")
    print(f"alp in Slack (signed request -> answer posted): median {s:.3f}s  runs {[round(x, 3) for x in slack_times]}")
    print(f"alp check kafka-lag in a terminal (history):   median {a:.2f}s  runs {[round(x, 2) for x in alp_times]}")
    print(f"Slack: {c / s:.1f}x faster   terminal: {c / a:.1f}x faster")
    print(f"sampling cycle: median {statistics.median(cycles):.2f}s  runs {[round(x, 2) for x in cycles]}")
    print(f"bot: start to first history written {first_cycle:.1f}s, memory after the answers {memory:.0f} MB RSS")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
