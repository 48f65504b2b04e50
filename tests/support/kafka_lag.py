"""The kafka-lag check run against the test bed's Kafka: its configuration, a run, a group's data,
a consumer falling behind, the lag history sampler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

import commands.checks  # noqa: F401
from commands.backends.kafka import KafkaProbe
from commands.checks.kafka_lag import KafkaLagParams, LagWatcher
from commands.config import ChecksConfig, KafkaLagSettings, TimeoutSettings
from commands.registry import CHECKS, CheckContext
from commands.report import Report
from commands.runner import run_check
from tests.support.kafka import create_topic, produce
from tests.support.processes import testbed_env


def config(bootstrap: str, **lag: object) -> ChecksConfig:
    """No shared history (Redis database 12 stays empty): checks sample as a one-shot would."""
    redis_url = testbed_env().get("ALP_REDIS_URL", "redis://127.0.0.1:1/0").rsplit("/", 1)[0] + "/12"
    return ChecksConfig(
        kafka_bootstrap=bootstrap,
        redis_url=redis_url,
        kafka_lag=KafkaLagSettings(**{"samples": 2, "interval_s": 0.2, **lag}),
        timeouts=TimeoutSettings(probe_s=3, check_s=30),
    )


async def run_lag(cfg: ChecksConfig, **params: object) -> Report:
    spec = CHECKS.get("kafka-lag")
    assert spec is not None
    return await run_check(spec, CheckContext(cfg), KafkaLagParams(**params))


def group_data(report: Report, group: str) -> dict:
    [g] = [g for g in report.data["groups"] if g["group"] == group]
    return g


@contextlib.asynccontextmanager
async def falling_behind(bootstrap: str, topic: str) -> AsyncIterator[None]:
    """A live consumer committing 2 messages per tick while a producer adds 10: lag grows."""
    await create_topic(bootstrap, topic, 1)
    await produce(bootstrap, topic, {0: 50})
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2,
    )
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    stop = asyncio.Event()

    async def slow_consumer() -> None:
        while not stop.is_set():
            await consumer.getmany(timeout_ms=100, max_records=2)
            await consumer.commit()
            await asyncio.sleep(0.05)

    async def fast_producer() -> None:
        while not stop.is_set():
            for _ in range(10):
                await producer.send(topic, b"attempt", partition=0)
            await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(slow_consumer())]
    await _wait_committed(bootstrap, topic)
    tasks.append(asyncio.create_task(fast_producer()))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()
        await consumer.stop()


async def _wait_committed(bootstrap: str, group: str) -> None:
    async with KafkaProbe(bootstrap, 3) as probe:
        for _ in range(100):
            snap = await probe.snapshot([group])
            if snap.groups.get(group) and snap.groups[group].offsets:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("consumer never committed")


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
