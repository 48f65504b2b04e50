"""`check kafka-lag` and `reset-offsets` on every kind of group, against the real broker.

Observations 1, 3 and 4 of issue #12: consumer-protocol (KIP-848) groups, assigned partitions
with no committed offset, and a window too short to tell STALL from slow progress."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaConsumer

from bot.render.report_text import render_text
from commands.actions.registry import ACTIONS, ActionContext
from commands.actions.runner import preview, validate
from commands.backends.kafka import KafkaProbe
from tests.support.kafka import create_topic, produce
from tests.support.kafka_console import console_consumer
from tests.support.kafka_lag import config, group_data, run_lag
from tests.support.processes import ROOT

pytestmark = pytest.mark.slow


async def _wait_committed(bootstrap: str, group: str, at_least: int) -> None:
    async with KafkaProbe(bootstrap, 3) as probe:
        for _ in range(300):
            offsets = await probe.admin.list_consumer_group_offsets(group)
            if offsets and sum(max(o.offset, 0) for o in offsets.values()) >= at_least:
                return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{group} never committed {at_least}")


@pytest.mark.parametrize("protocol", ["consumer", "classic"])
async def test_live_group_of_either_protocol_is_seen_live_and_reset_refuses_it(testbed, unique, protocol, tmp_path):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 6, 1: 4})
    with console_consumer(testbed, unique, unique, protocol, **{"auto.commit.interval.ms": "300"}) as c:
        await asyncio.to_thread(c.wait_for, 10)
        await _wait_committed(bootstrap, unique, 10)
        report = await run_lag(config(bootstrap), group=unique)
        cfg = config(bootstrap)
        spec = ACTIONS.get("reset-offsets")
        assert spec is not None
        params = validate(spec, {"group": unique})
        pre = await preview(spec, ActionContext(cfg), params)
        # a consumer came back after the preview: the broker rejects the commit; a clear outcome, no raise
        outcome = await spec.execute(ActionContext(cfg), params, pre)
        cli = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "bot.cli", "do", "reset-offsets", unique, "--yes"],
            cwd=ROOT,
            env={**testbed, "PATH": "/usr/bin:/bin", "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db"},
            capture_output=True,
            text=True,
            timeout=60,
        )

    g = group_data(report, unique)
    assert (g["state"], g["members"], g["protocol"]) == ("Stable", 1, protocol)
    assert g["status"] == "OK" and g["total_lag"] == 0
    assert pre.refusal and "1 active member(s)" in pre.refusal
    assert not outcome.ok and "active member" in outcome.summary
    assert cli.returncode == 1 and "refused" in cli.stderr and "Traceback" not in cli.stderr + cli.stdout


@pytest.mark.parametrize("protocol", ["consumer", "classic"])
async def test_assigned_partition_without_a_commit_is_no_commit_with_lag_from_log_start(testbed, unique, protocol):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 30})
    with console_consumer(testbed, unique, unique, protocol, **{"enable.auto.commit": "false"}) as c:
        await asyncio.to_thread(c.wait_for, 30)  # it read every message and committed none
        report = await run_lag(config(bootstrap), group=unique)

    g = group_data(report, unique)
    assert g["members"] == 1
    [p] = g["partitions"]
    assert p["committed_offset"] is None and p["end_offset"] == 30 and p["lag"] == 30
    assert p["status"] != "OK" and g["status"] != "OK"
    assert report.exit_code != 0
    assert "no commit" in render_text(report)


async def test_a_three_sample_window_does_not_call_a_slow_live_consumer_stall(testbed, unique):
    """Auto-commit every 6 s; the default one-shot window (3 samples 2 s apart) right after a commit."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 400})
    consumer = AIOKafkaConsumer(
        unique,
        bootstrap_servers=bootstrap,
        group_id=unique,
        auto_offset_reset="earliest",
        enable_auto_commit=True,
        auto_commit_interval_ms=6000,
    )
    await consumer.start()
    stop = asyncio.Event()

    async def slow() -> None:
        while not stop.is_set():
            await consumer.getmany(timeout_ms=100, max_records=2)
            await asyncio.sleep(0.2)

    task = asyncio.create_task(slow())
    try:
        await _wait_committed(bootstrap, unique, 1)
        report = await run_lag(config(bootstrap, samples=3, interval_s=2.0), group=unique)
    finally:
        stop.set()
        await task
        await consumer.stop()

    g = group_data(report, unique)
    assert g["members"] == 1 and g["total_lag"] > 0
    assert g["status"] != "STALL", g
    finding = next(f for f in report.findings if f.title.startswith(f"Consumer group {unique}"))
    if g["status"] == "UNKNOWN":
        assert "window too short" in finding.detail
    assert not any(s.action == "reset-offsets" for s in finding.suggestions)


async def test_a_live_consumer_whose_offset_stays_still_long_enough_is_stall(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 50})
    consumer = AIOKafkaConsumer(unique, bootstrap_servers=bootstrap, group_id=unique, enable_auto_commit=False)
    await consumer.start()
    try:
        for _ in range(100):
            await consumer.getmany(timeout_ms=100)
            if consumer.assignment():
                break
        from aiokafka import TopicPartition
        from aiokafka.structs import OffsetAndMetadata

        await consumer.commit({TopicPartition(unique, 0): OffsetAndMetadata(5, "")})
        # a member that stays in the group and never moves on: stuck on one message
        report = await run_lag(config(bootstrap, samples=3, interval_s=1.5, stall_window_s=2.5), group=unique)
    finally:
        await consumer.stop()
    g = group_data(report, unique)
    assert (g["members"], g["status"], g["total_lag"]) == (1, "STALL", 45)


async def test_a_consumer_that_never_commits_is_told_to_commit_not_offered_more_partitions(testbed, unique):
    """A live consumer keeping up but committing nothing is not "falling behind": the detail says
    what the evidence shows (no commit) and no scale or add-partitions is offered."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 12, 1: 8})
    with console_consumer(testbed, unique, unique, "classic", **{"enable.auto.commit": "false"}) as c:
        await asyncio.to_thread(c.wait_for, 20)
        report = await run_lag(config(bootstrap), group=unique)

    finding = next(f for f in report.findings if f.title.startswith(f"Consumer group {unique}"))
    assert finding.title.startswith(f"Consumer group {unique}: WARN")
    assert "falling behind" not in finding.detail and "growing" not in finding.detail
    assert "no commit" in finding.detail
    assert not [s.action for s in finding.suggestions if s.action in ("scale", "add-partitions")]
