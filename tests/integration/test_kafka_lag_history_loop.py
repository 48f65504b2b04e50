"""Reading the shared lag history leaves the event loop free (issue #23): a bot with 1,000
groups decodes tens of snapshots for every kafka-lag check, and the loop that acks Slack and
holds the escalation lease must not wait for that."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest
import redis.asyncio as aioredis
from aiokafka import TopicPartition

from commands.backends.kafka import GroupState, Snapshot
from commands.checks.kafka_lag.history import decode, encode, load
from commands.runtime.cpu import off_process, warm
from tests.support.kafka_lag import history_config

pytestmark = pytest.mark.slow


def snapshot(taken_at: float, groups: int, salt: str) -> Snapshot:
    states = {}
    ends = {}
    for g in range(groups):
        tps = {TopicPartition(f"{salt}-topic-{g % 50}", p): 1000 * g + p for p in range(6)}
        states[f"{salt}-group-{g}"] = GroupState(f"{salt}-group-{g}", "Stable", 3, tps, assigned=set(tps))
        ends |= {tp: o + 10 for tp, o in tps.items()}
    return Snapshot(taken_at, states, ends, dict.fromkeys(ends, 0))


async def worst_tick(work: asyncio.Future[object], tick_s: float = 0.005) -> float:
    """The worst lateness of a `tick_s` timer on the loop while `work` runs."""
    worst = 0.0
    while not work.done():
        planned = time.monotonic() + tick_s
        await asyncio.sleep(tick_s)
        worst = max(worst, time.monotonic() - planned)
    await work
    return worst


async def test_the_history_is_decoded_off_the_event_loop(testbed, unique):
    cfg = history_config(testbed)
    cfg.kafka_bootstrap = f"history-loop-{unique}:9092"  # a history of its own (load reads only Redis)
    key = f"alp:kafka-lag:{cfg.kafka_bootstrap}:samples"
    now = time.time()
    n = cfg.kafka_lag.window  # as many snapshots of 1,000 groups as a check replays
    texts = [encode(snapshot(now - 600 + i, 1000, f"{unique}-{i}")) for i in range(n)]

    def inline() -> float:
        t0 = time.perf_counter()
        for text in texts:
            decode(text)
        return time.perf_counter() - t0

    await off_process(warm)  # as the bot starts (bot/server.py): its worker processes running,
    gc.freeze()  # what it loaded at start kept out of the garbage collector's full passes
    client = aioredis.from_url(cfg.redis_url)
    try:
        await client.rpush(key, *texts)
        before = inline()  # the same work on the loop, before and after (the machine's load varies)
        history = asyncio.ensure_future(load(cfg))
        stall = await worst_tick(history)
        on_loop = max(before, inline())
        assert len(history.result().snapshots) == n
    finally:
        gc.unfreeze()
        await client.delete(key)
        await client.aclose()
    assert stall < on_loop / 2, f"the loop waited {stall:.3f}s while {n} snapshots were decoded ({on_loop:.3f}s inline)"
