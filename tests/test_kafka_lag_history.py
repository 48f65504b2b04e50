"""One lag history for every process (issue #12, observation 2), on the real broker and Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from commands.checks.kafka_lag import LagWatcher
from commands.config import ChecksConfig
from tests.kafka_helpers import commit, create_topic, produce
from tests.test_kafka_lag import config, group_data, run_lag

pytestmark = pytest.mark.slow

HISTORY_DB = 11  # not the running test bot's database: its sampler holds the lease there


def history_config(testbed: dict[str, str], **lag: object) -> ChecksConfig:
    cfg = config(testbed["ALP_KAFKA_BOOTSTRAP"], **lag)
    cfg.redis_url = testbed["ALP_REDIS_URL"].rsplit("/", 1)[0] + f"/{HISTORY_DB}"
    return cfg


async def sampled(cfg: ChecksConfig, more: int = 1, timeout: float = 60) -> None:
    """Wait until the sampler has appended `more` snapshots to the history."""
    client = aioredis.from_url(cfg.redis_url)
    key = f"alp:kafka-lag:{cfg.kafka_bootstrap}:samples"
    try:
        start = await client.llen(key)
        for _ in range(int(timeout / 0.05)):
            if await client.llen(key) >= min(start + more, cfg.kafka_lag.window):
                return
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise AssertionError(f"the sampler appended fewer than {more} snapshots in {timeout}s")


@contextlib.asynccontextmanager
async def bot_sampling(cfg: ChecksConfig) -> AsyncIterator[None]:
    """What alp-bot runs: the lag watcher, here with a fresh history."""
    client = aioredis.from_url(cfg.redis_url)
    await client.flushdb()
    task = asyncio.create_task(LagWatcher(cfg).run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await client.flushdb()
        await client.aclose()


async def test_group_caught_up_then_left_alone_while_messages_arrive_turns_stop(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    cfg = history_config(testbed, watch_interval_s=1.0)
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 10})
    await commit(bootstrap, unique, unique, {0: 10})  # caught up, no consumer
    async with bot_sampling(cfg):
        await sampled(cfg, 2)  # the bot has seen it at lag 0
        await produce(bootstrap, unique, {0: 40})
        await sampled(cfg, 1)
        first = await run_lag(cfg, group=unique)
        await sampled(cfg, 3)
        later = await run_lag(cfg, group=unique)
    for report in (first, later):
        g = group_data(report, unique)
        assert (g["status"], g["total_lag"]) == ("STOP", 40), g


async def test_consumer_that_left_after_catching_up_turns_stop(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    cfg = history_config(testbed, watch_interval_s=0.5)
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 5, 1: 5})
    async with bot_sampling(cfg):
        consumer = AIOKafkaConsumer(
            unique, bootstrap_servers=bootstrap, group_id=unique, auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        got = 0
        while got < 10:
            got += sum(len(v) for v in (await consumer.getmany(timeout_ms=500)).values())
        await consumer.commit()
        await sampled(cfg, 2)  # sampled live at lag 0
        await consumer.stop()
        await produce(bootstrap, unique, {1: 7})
        await sampled(cfg, 1)
        report = await run_lag(cfg, group=unique)
    g = group_data(report, unique)
    assert (g["status"], g["members"], g["total_lag"]) == ("STOP", 0, 7), g
    assert {p["partition"]: p["status"] for p in g["partitions"]} == {0: "OK", 1: "STOP"}
    assert report.data["window"]["source"] == "history"


async def test_only_the_lease_holder_samples_and_another_takes_over_when_it_goes(testbed, unique):
    from commands.backends.kafka import KafkaProbe

    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    cfg = history_config(testbed, watch_interval_s=30)
    await create_topic(bootstrap, unique, 1)
    await commit(bootstrap, unique, unique, {0: 0})
    client = aioredis.from_url(cfg.redis_url)
    await client.flushdb()
    first, second = LagWatcher(cfg), LagWatcher(cfg)
    try:
        async with KafkaProbe(bootstrap, 5) as probe:
            rounds = [(await first.sample_once(probe), await second.sample_once(probe)) for _ in range(2)]
            await first.lease.release()  # the first replica goes away
            rounds.append((False, await second.sample_once(probe)))
            rounds.append((await first.sample_once(probe), await second.sample_once(probe)))
        stored = await client.llen(f"alp:kafka-lag:{bootstrap}:samples")
    finally:
        await first.redis.aclose()
        await second.redis.aclose()
        await client.flushdb()
        await client.aclose()
    assert rounds == [(True, False), (True, False), (False, True), (False, True)]
    assert stored == 4  # one snapshot per round, never two


async def test_transaction_markers_in_the_history_keep_the_older_layout(testbed, unique):
    """#25: a real snapshot of a group behind a commit marker round-trips its marker count, and each
    group keeps the five fields an older replica of alp unpacks (the markers sit under their own key)."""
    import json

    from commands.backends.kafka import KafkaProbe
    from commands.checks.kafka_lag.history import decode, encode
    from tests.kafka_helpers import produce_transactions

    boot = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, unique, 1)
    read_all = await produce_transactions(boot, unique, 2, 3)
    await commit(boot, unique, unique, {0: read_all})
    async with KafkaProbe(boot, 3) as kp:
        snap = await kp.snapshot([unique])
    assert sum(snap.groups[unique].control.values()) == 1  # the last commit marker

    text = encode(snap)
    assert all(len(fields) == 5 for fields in json.loads(text)["g"].values())
    assert decode(text).groups[unique].control == snap.groups[unique].control
