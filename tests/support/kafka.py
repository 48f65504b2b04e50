"""Make real lag on the test bed's broker: topics, messages, committed offsets."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def produce(bootstrap: str, topic: str, per_partition: dict[int, int]) -> None:
    """Send `n` small messages to each partition."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, b"attempt", partition=p) for p, n in per_partition.items() for _ in range(n)
        ]
        await producer.flush()
        for f in futures:
            await f
    finally:
        await producer.stop()


async def commit(bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit offsets for a group without joining it (the group stays memberless)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in offsets]
        consumer.assign(tps)
        await consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "") for p, o in offsets.items()})
    finally:
        await consumer.stop()


async def produce_transactions(bootstrap: str, topic: str, transactions: int, per_transaction: int) -> int:
    """Committed transactions of `per_transaction` messages to partition 0, as a transactional
    producer writes them (each ends with a commit marker, a control record that takes an offset).
    Returns the offset after the last data record (what a consumer that read them all commits)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=f"alp-test-{topic}")
    await producer.start()
    last = -1
    try:
        for _ in range(transactions):
            async with producer.transaction():
                for _ in range(per_transaction):
                    meta = await (await producer.send(topic, b"attempt", partition=0))
                    last = meta.offset
    finally:
        await producer.stop()
    return last + 1


async def delete_records(bootstrap: str, topic: str, before: dict[int, int]) -> None:
    """`kafka-delete-records`: move each partition's log start to the given offset."""
    from aiokafka.admin.records_to_delete import RecordsToDelete

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({TopicPartition(topic, p): RecordsToDelete(o) for p, o in before.items()})
    finally:
        await admin.close()
