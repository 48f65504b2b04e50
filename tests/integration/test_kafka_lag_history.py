"""One lag history for every process (issue #12, observation 2), on the real broker and Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer

from commands.checks.kafka_lag import LagWatcher
from tests.support.kafka import commit, create_topic, produce
from tests.support.kafka_lag import bot_sampling, group_data, history_config, run_lag, sampled

pytestmark = pytest.mark.slow


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
    from tests.support.kafka import produce_transactions

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


async def test_a_bot_that_samples_but_has_no_sample_yet_is_not_said_to_be_not_sampling(testbed):
    """#29 item 11: right after alp-bot starts, its sampler holds the lease and has stored nothing yet."""
    from commands.checks.kafka_lag.history import load

    cfg = history_config(testbed, watch_interval_s=30.0)
    client = aioredis.from_url(cfg.redis_url)
    await client.flushdb()
    try:
        assert (await load(cfg)).error is None  # nobody samples: the check says so itself
        await client.set(f"alp:kafka-lag:{cfg.kafka_bootstrap}:sampler", "a-bot", px=60_000)  # the watcher's lease
        history = await load(cfg)
        assert not history.snapshots and "no sample yet" in str(history.error), history
    finally:
        await client.flushdb()
        await client.aclose()
