"""Offsets between a group's committed offset and the log end that no consumer will receive,
which are not lag.

A transactional producer ends every transaction with a marker (a control record) in each
partition it wrote: it takes an offset, but no consumer ever receives it. A transaction that
aborted leaves its records in the log too, and a read_committed consumer (what a transactional
pipeline runs) never receives them either. A consumer that read everything therefore still
shows log-end minus committed = 1 (or more, many after an abort). Like Kafka's own consumers,
alp does not count them as lag: the gap is read once by a read_committed consumer, and only the
records it is given count (`control` holds markers and aborted records alike).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

CONTROL_SCAN = 200  # gaps up to this many offsets are read to tell data records from markers
Call = Callable[[str, Awaitable[Any]], Awaitable[Any]]  # KafkaProbe._call: bounded, errors as BackendError


async def count_control(
    reader: Callable[[], Awaitable[AIOKafkaConsumer]],
    call: Call,
    groups: dict[str, Any],
    ends: dict[TopicPartition, int],
    budget_s: float,
) -> None:
    """Set each group's `control` (commands.backends.kafka.GroupState): offsets between each
    committed offset and the log end that a read_committed consumer (`reader()`, started when a
    gap is to be read) is not given (markers, aborted records), where that gap is at most
    CONTROL_SCAN offsets. Gaps not read within `budget_s` keep their raw lag."""
    ranges = {
        (tp, off)
        for g in groups.values()
        for tp, off in g.offsets.items()
        if 0 < ends.get(tp, off) - off <= CONTROL_SCAN
    }
    if not ranges:
        return
    data = await data_records(await reader(), call, ranges, ends, budget_s)
    for g in groups.values():
        for tp, off in g.offsets.items():
            if (tp, off) in data:
                g.control[tp] = ends[tp] - off - data[(tp, off)]


async def data_records(
    consumer: AIOKafkaConsumer,
    call: Call,
    ranges: set[tuple[TopicPartition, int]],
    ends: dict[TopicPartition, int],
    budget_s: float,
) -> dict[tuple[TopicPartition, int], int]:
    """How many data records lie in [offset, log end) of each (partition, offset): one read per
    partition from its lowest offset asked; the fetch skips control batches and moves the
    position past them (aiokafka's fetcher). Partitions not read to the end in time are left out."""
    start: dict[TopicPartition, int] = {}
    for tp, offset in ranges:
        start[tp] = min(offset, start.get(tp, offset))
    data: dict[TopicPartition, list[int]] = {tp: [] for tp in start}
    done: set[TopicPartition] = set()
    deadline = time.monotonic() + budget_s
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        waiting = set(start)
        while waiting and (left := deadline - time.monotonic()) > 0:
            got = await call("fetch", consumer.getmany(*waiting, timeout_ms=int(min(left, 0.2) * 1000)))
            for tp, records in got.items():
                data[tp] += [r.offset for r in records if r.offset < ends[tp]]
            for tp in list(waiting):
                if await call("position", consumer.position(tp)) >= ends[tp]:
                    done.add(tp)
                    waiting.discard(tp)
    finally:
        consumer.unsubscribe()
    return {(tp, off): sum(1 for o in data[tp] if o >= off) for tp, off in ranges if tp in done}
