"""`check kafka-lag` against the test bed's real Kafka broker."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time

from aiokafka import AIOKafkaConsumer

import commands.checks  # noqa: F401
from commands.backends.kafka import KafkaProbe
from commands.checks.kafka_lag import LagTracker
from commands.checks.kafka_lag.assess import assess
from commands.report import Severity
from tests.support.kafka import commit, create_topic, produce
from tests.support.kafka_lag import config, falling_behind, group_data, run_lag
from tests.support.processes import ROOT


async def test_reported_lag_equals_created_lag_per_partition(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 3)
    await produce(bootstrap, unique, {0: 10, 1: 20, 2: 30})
    await commit(bootstrap, unique, unique, {0: 3, 1: 5, 2: 7})

    report = await run_lag(config(bootstrap), group=unique)

    g = group_data(report, unique)
    by_partition = {p["partition"]: p for p in g["partitions"]}
    assert {p: v["lag"] for p, v in by_partition.items()} == {0: 7, 1: 15, 2: 23}
    assert {p: v["committed_offset"] for p, v in by_partition.items()} == {0: 3, 1: 5, 2: 7}
    assert {p: v["end_offset"] for p, v in by_partition.items()} == {0: 10, 1: 20, 2: 30}
    assert g["total_lag"] == 45
    assert g["max_lag_partition"] == {"topic": unique, "partition": 2, "lag": 23}
    assert g["members"] == 0
    topic = next(t for t in report.data["topics"] if t["topic"] == unique)
    assert topic["partitions"] == 3 and topic["replication_factor"] == 1


async def test_caught_up_group_is_ok(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 5, 1: 5})
    await commit(bootstrap, unique, unique, {0: 5, 1: 5})

    report = await run_lag(config(bootstrap), group=unique)

    g = group_data(report, unique)
    assert g["status"] == "OK" and g["total_lag"] == 0
    assert report.severity is Severity.OK


async def test_allowed_lag_tolerates_exactly_once_gap(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 5})
    await commit(bootstrap, unique, unique, {0: 4})

    strict = await run_lag(config(bootstrap), group=unique)
    tolerant = await run_lag(config(bootstrap, allowed_lag=1), group=unique)

    assert group_data(strict, unique)["status"] != "OK"
    assert group_data(tolerant, unique)["status"] == "OK"


async def test_consumer_that_stopped_while_producing_continues_is_stop(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 20})
    consumer = AIOKafkaConsumer(
        unique,
        bootstrap_servers=bootstrap,
        group_id=unique,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got = 0
    while got < 20:
        batch = await consumer.getmany(timeout_ms=2000)
        got += sum(len(v) for v in batch.values())
    await consumer.commit()
    await consumer.stop()  # the consumer is gone ...

    async def keep_producing() -> None:  # ... while messages keep arriving
        for _ in range(6):
            await produce(bootstrap, unique, {0: 5})
            await asyncio.sleep(0.1)

    producing = asyncio.create_task(keep_producing())
    report = await run_lag(config(bootstrap, samples=3, interval_s=0.3), group=unique)
    await producing

    g = group_data(report, unique)
    assert g["status"] in ("STOP", "STALL")
    assert g["state"] == "Empty" and g["members"] == 0
    finding = next(f for f in report.findings if f.title.startswith(f"Consumer group {unique}"))
    assert finding.severity is Severity.CRITICAL
    assert any(s.action == "reset-offsets" for s in finding.suggestions)


async def test_consumer_falling_behind_while_committing_is_warn(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    async with falling_behind(bootstrap, unique):
        report = await run_lag(config(bootstrap, samples=4, interval_s=0.5), group=unique)

    g = group_data(report, unique)
    assert g["members"] == 1
    assert g["status"] == "WARN", g
    [p] = g["partitions"]
    assert p["lag"] > 0 and p["lag_seconds"] is not None and p["lag_seconds"] > 0
    finding = next(f for f in report.findings if f.title.startswith(f"Consumer group {unique}"))
    assert finding.severity is Severity.WARNING
    assert {s.action for s in finding.suggestions} >= {"add-partitions"}


async def test_rewound_group_is_rewind(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await produce(bootstrap, unique, {0: 100})
    await commit(bootstrap, unique, unique, {0: 80})
    tracker = LagTracker(window=10)
    async with KafkaProbe(bootstrap, 3) as probe:
        tracker.observe(await probe.snapshot([unique]))
        await commit(bootstrap, unique, unique, {0: 30})  # someone reset the offsets back
        tracker.observe(await probe.snapshot([unique]))
    [g] = assess(tracker, allowed_lag=0, stall_window_s=60, deployments={})
    assert g.status.value == "REWIND"
    assert g.partitions[0].lag == 70


async def test_unknown_group_names_the_known_ones(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await commit(bootstrap, unique, unique, {0: 0})
    report = await run_lag(config(bootstrap), group=unique[:-1] + "x")
    [f] = [f for f in report.findings if f.title.startswith("No consumer group")]
    assert f.severity is Severity.UNKNOWN and unique in f.detail


async def test_refused_broker_is_unreachable_quickly():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        t0 = time.monotonic()
        report = await run_lag(config(f"127.0.0.1:{port}"))
    assert time.monotonic() - t0 < 3
    [f] = [x for x in report.findings if x.probe != "changes"]  # a critical report also says what changed
    assert "unreachable" in f.title and str(port) in f.title
    assert report.severity is Severity.CRITICAL


async def test_silent_broker_is_unreachable_within_the_probe_timeout():
    """A broker that accepts connections but never answers must not hang the check."""
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    cfg = config(f"127.0.0.1:{port}")
    cfg.timeouts.probe_s = 1.0
    t0 = time.monotonic()
    async with server:
        report = await run_lag(cfg)
    elapsed = time.monotonic() - t0
    assert elapsed < 5, elapsed
    assert any("unreachable" in f.title for f in report.findings)


def test_cli_json_report_and_exit_code(testbed, unique):
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]

    async def setup() -> None:
        await create_topic(bootstrap, unique, 2)
        await produce(bootstrap, unique, {0: 4, 1: 6})
        await commit(bootstrap, unique, unique, {0: 1, 1: 6})

    asyncio.run(setup())
    env = {**testbed, "ALP_KAFKA_LAG__INTERVAL_S": "0.1", "PATH": _path()}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--json", "check", "kafka-lag", "--group", unique],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    body = json.loads(out.stdout)
    assert body["target"] == "kafka-lag"
    [g] = body["data"]["groups"]
    assert [(p["partition"], p["lag"]) for p in g["partitions"]] == [(0, 3), (1, 0)]
    assert body["severity"] == "critical" and out.returncode == 2 == body["exit_code"]

    text = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "kafka-lag", "--group", unique],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"Consumer group {unique}: STOP, lag 3" in text.stdout
    assert text.returncode == 2


def test_cli_unknown_target_suggests_and_exits_64():
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "kafka-lga"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": _path()},
    )
    assert out.returncode == 64
    assert "Did you mean `kafka-lag`" in out.stderr
    assert "Traceback" not in out.stderr


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


async def test_the_bots_shared_history_judges_over_minutes_not_seconds(testbed, unique):
    """With the sampler running (as in alp-bot), a check judges over the shared history."""
    from tests.support.kafka_lag import bot_sampling, history_config, sampled

    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    cfg = history_config(testbed, watch_interval_s=0.3)
    async with falling_behind(bootstrap, unique), bot_sampling(cfg):
        await sampled(cfg, 5)
        report = await run_lag(cfg, group=unique)

    assert report.data["window"]["source"] == "history"
    g = group_data(report, unique)
    assert g["status"] == "WARN", g
    filled = int(g["window_fill"].split("/")[0])
    assert filled >= 5  # the sampler's samples plus the one taken for this check


async def test_batched_offset_fetch_and_coordinators_agree_with_one_request_per_group(testbed, unique):
    """One OffsetFetch v8 / FindCoordinator v4 for many groups gives what aiokafka's per-group calls give."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 3)
    await produce(bootstrap, unique, {0: 9, 1: 9, 2: 9})
    groups = [f"{unique}-{i}" for i in range(4)]
    for i, g in enumerate(groups):
        await commit(bootstrap, g, unique, {p: (i + p) % 9 for p in range(3)})
    async with KafkaProbe(bootstrap, 5) as probe:
        batched = await probe.committed(groups)
        one_by_one = {
            g: {tp: om.offset for tp, om in (await probe.admin.list_consumer_group_offsets(g)).items()} for g in groups
        }
        nodes = await probe.coordinators(groups)
        assert set(nodes.values()) == {await probe.admin.find_coordinator(groups[0])}
    assert batched == one_by_one
    assert batched[groups[2]][next(iter(batched[groups[2]]))] in range(9)


async def test_committed_offset_past_the_log_end_is_not_ok(testbed, unique):
    """kafka-consumer-groups shows a negative lag (a re-created or truncated topic); the consumer's
    next fetch is out of range and resets, so alp must not call it caught up."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 2)
    await produce(bootstrap, unique, {0: 10, 1: 5})
    await commit(bootstrap, unique, unique, {0: 40, 1: 5})
    report = await run_lag(config(bootstrap), group=unique)
    g = group_data(report, unique)
    assert g["status"] == "WARN" and report.exit_code != 0
    by_partition = {p["partition"]: p for p in g["partitions"]}
    assert (by_partition[0]["committed_offset"], by_partition[0]["end_offset"]) == (40, 10)
    assert by_partition[0]["status"] == "WARN" and by_partition[1]["status"] == "OK"
    finding = next(f for f in report.findings if f.title.startswith(f"Consumer group {unique}"))
    assert "past the log end" in finding.detail
    assert not [s.action for s in finding.suggestions if s.action in ("scale", "add-partitions")]


async def test_unknown_group_among_many_names_a_few_and_says_how_many_more(testbed, unique):
    """A broker with many groups: the answer names the close matches and a bounded list, and says
    how many it left out, instead of one line with every group on the broker."""
    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(bootstrap, unique, 1)
    await asyncio.gather(*(commit(bootstrap, f"{unique}-{i:02d}", unique, {0: 0}) for i in range(40)))
    report = await run_lag(config(bootstrap), group=f"{unique}-7")
    [f] = [f for f in report.findings if f.title.startswith("No consumer group")]
    assert "Did you mean" in f.detail
    listed = [f"{unique}-{i:02d}" for i in range(40) if f"{unique}-{i:02d}" in f.detail]
    assert 3 <= len(listed) < 40
    assert "more" in f.detail and "--all" in f.detail
