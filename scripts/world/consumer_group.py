"""The demo's consumer group: `user-service` stopped behind on `user.attempts` (scripts/world/demo.py),
and the groups earlier runs left on the test bed, removed so they do not drown it."""

from __future__ import annotations

import json
import subprocess

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.structs import OffsetAndMetadata

TOPIC = "user.attempts"
GROUP = "user-service"
END_OFFSETS = {0: 120, 1: 95, 2: 140}  # messages on each partition of user.attempts
COMMITTED = {0: 78, 1: 61, 2: 93}  # where the user-service group stopped: lag 123


async def seed(bootstrap: str, kafka_home: str | None) -> list[str]:
    """`TOPIC` with `END_OFFSETS` messages, `GROUP` memberless at `COMMITTED` (Burrow: STOP);
    removes the leftover groups (with Kafka's tool from `kafka_home`, when given); returns them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, len(END_OFFSETS), 1)])  # answers "already exists" in the response
        [described] = await admin.describe_topics([TOPIC])
        if len(described["partitions"]) < len(END_OFFSETS):  # auto-created with one partition: grow it
            await admin.create_partitions({TOPIC: NewPartitions(len(END_OFFSETS))})
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(TOPIC, p) for p in END_OFFSETS]
        ends = await consumer.end_offsets(tps)
        missing = {
            tp.partition: END_OFFSETS[tp.partition] - ends[tp] for tp in tps if ends[tp] < END_OFFSETS[tp.partition]
        }
        if missing:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
            await producer.start()
            try:
                for p, n in missing.items():
                    for i in range(n):
                        body = json.dumps({"user": f"u{1000 + i}", "item": 42 + i, "correct": i % 3 != 0}).encode()
                        await producer.send(TOPIC, body, partition=p)
                await producer.flush()
            finally:
                await producer.stop()
        consumer.assign(tps)
        await consumer.commit({TopicPartition(TOPIC, p): OffsetAndMetadata(o, "") for p, o in COMMITTED.items()})
    finally:
        await consumer.stop()
    left = await leftover_groups(bootstrap)
    if left and kafka_home:
        delete_groups(kafka_home, bootstrap, left)
        return left
    return []


async def leftover_groups(bootstrap: str) -> list[str]:
    """Consumer groups without members other than the demo's: what test runs and benchmarks leave
    behind on the test bed (a group with a live consumer is somebody's and stays)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted({g[0] for g in await admin.list_consumer_groups()} - {GROUP})
        # One group a request: aiokafka misreads a DescribeGroups response holding several.
        described = [(await admin.describe_consumer_groups([name]))[0].to_object()["groups"][0] for name in names]
    finally:
        await admin.close()
    return [
        g["group"] for g in described if g["error_code"] == 0 and g["state"] in ("Empty", "Dead") and not g["members"]
    ]


def delete_groups(kafka_home: str, bootstrap: str, groups: list[str]) -> None:
    """Delete consumer groups with Kafka's own tool, from the jars in `kafka_home` (aiokafka has no DeleteGroups)."""
    cmd = ["java", "-cp", f"{kafka_home}/libs/*", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"]
    cmd += ["--bootstrap-server", bootstrap, "--delete"]
    for group in groups:
        cmd += ["--group", group]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=120)
