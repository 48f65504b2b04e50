"""Kafka through aiokafka: cluster, consumer groups, committed and log-end offsets, and the
one write of offsets (`commit_offsets`).

A failure raises a `BackendError` (backend "Kafka"), never an aiokafka exception: a broker that
cannot be reached or does not answer in time is `BackendUnreachable` (address: the bootstrap
list), a request the broker answers with an error `BackendRefused`; `__cause__` keeps aiokafka's
exception.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka import errors as kx
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.errors import IncompatibleBrokerVersion
from aiokafka.protocol.admin import ApiVersionRequest
from aiokafka.structs import OffsetAndMetadata

from commands.backends.errors import BackendError, BackendRefused, BackendUnreachable
from commands.backends.kafka_clients import Clients
from commands.backends.kafka_control import count_control
from commands.backends.kafka_protocol import (
    ClassicDescribe,
    ConsumerGroupDescribe,
    FindCoordinators,
    OffsetFetchGroups,
    classic_assignment,
)

BACKEND = "Kafka"
# aiokafka's own "could not talk to the broker" errors; any other KafkaError is the broker's answer.
_UNREACHABLE = (
    OSError,
    kx.KafkaConnectionError,
    kx.NodeNotReadyError,
    kx.NoBrokersAvailable,
    kx.KafkaTimeoutError,
    kx.KafkaUnavailableError,
    kx.RequestTimedOutError,
)


def backend_error(what: str, err: BaseException, bootstrap: str, timeout_s: float) -> BackendError:
    """The BackendError for an exception met while doing `what`; str() is "<what>: <why>"."""
    if isinstance(err, TimeoutError):
        why = f"no answer within {timeout_s:g}s"
        return BackendUnreachable(BACKEND, what, why, f"{what}: {why}", address=bootstrap)
    why = f"{type(err).__name__}: {err}"
    if isinstance(err, _UNREACHABLE):
        return BackendUnreachable(BACKEND, what, why, f"{what}: {why}", address=bootstrap)
    if isinstance(err, kx.KafkaError):
        return BackendRefused(BACKEND, what, why, f"{what}: {why}")
    return BackendError(BACKEND, what, why, f"{what}: {why}")


@dataclass
class GroupState:
    """A consumer group as its coordinator describes it, with its committed offsets.

    `protocol` is "classic" or "consumer" (KIP-848); `assigned` holds the partitions its live
    members own now (a partition may be assigned and have no committed offset yet)."""

    group_id: str
    state: str
    members: int
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    protocol: str = "classic"
    assigned: set[TopicPartition] = field(default_factory=set)
    control: dict[TopicPartition, int] = field(default_factory=dict)  # markers between committed and end

    def stale(self, tp: TopicPartition) -> bool:
        """Committed offsets on a topic no live member is assigned any partition of: what
        `kafka-consumer-groups --describe` shows with no consumer (the group stopped reading that
        topic), not a consumer that is stuck on it."""
        return (
            bool(self.members and self.assigned)
            and tp not in self.assigned
            and (tp.topic not in {a.topic for a in self.assigned})
        )


@dataclass
class Snapshot:
    """One sample: every group's committed offsets, log-end offsets, and the log-start offsets
    (records below it are deleted by retention or DeleteRecords: never lag, never skipped)."""

    taken_at: float
    groups: dict[str, GroupState]
    end_offsets: dict[TopicPartition, int]
    start_offsets: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class TopicState:
    name: str
    partitions: int
    replication_factor: int
    under_replicated: list[int]
    offline: list[int]


@dataclass
class ClusterState:
    cluster_id: str | None
    controller_id: int | None
    brokers: list[str]
    api_versions: int


class KafkaProbe:
    """An admin client plus an offsets-only consumer, opened and closed together.

    Every call is bounded by `timeout_s`; a refused or silent broker raises BackendUnreachable,
    an error answer BackendRefused.
    """

    def __init__(self, bootstrap: str, timeout_s: float) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        ms = int(timeout_s * 1000)
        common: dict[str, Any] = {
            "bootstrap_servers": bootstrap,
            "request_timeout_ms": ms,
            "metadata_max_age_ms": 60_000,
            "connections_max_idle_ms": 540_000,
        }
        self.admin = AIOKafkaAdminClient(**common, client_id="alp-admin")
        # fetch_max_wait_ms: a fetch at the log end answers at once instead of the broker holding it 500 ms
        self.consumer = AIOKafkaConsumer(
            **common, client_id="alp-offsets", group_id=None, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        self._clients = Clients(self.admin, self.consumer, timeout_s=timeout_s)
        self._common = common
        # What a read_committed consumer could read between a committed offset and the log end:
        # records of aborted transactions and transaction markers are never delivered to it, so
        # they are not lag (made and started only when a gap is read: commands.backends.kafka_control;
        # aiokafka reports a consumer made and never closed).
        self.committed_reader: AIOKafkaConsumer | None = None
        self._reader_clients: Clients | None = None
        self._coordinators: dict[str, int] = {}

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except BackendError:
            raise
        except Exception as err:
            raise backend_error(what, err, self.bootstrap, self.timeout_s) from err

    async def __aenter__(self) -> KafkaProbe:
        await self._clients.start(self._call)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def reader(self) -> AIOKafkaConsumer:
        """The read_committed consumer, started on first use."""
        if self.committed_reader is None:
            self.committed_reader = AIOKafkaConsumer(
                **self._common,
                client_id="alp-read-committed",
                group_id=None,
                enable_auto_commit=False,
                fetch_max_wait_ms=20,
                isolation_level="read_committed",
            )
            self._reader_clients = Clients(self.committed_reader, timeout_s=self.timeout_s)
            await self._reader_clients.start(self._call)
        return self.committed_reader

    async def close(self) -> None:
        """Close the clients and every connection they made, also when cancelled meanwhile
        (`kafka_clients.Clients`); a failure to close is not raised (it would hide the real error)."""
        both = [c.close() for c in (self._reader_clients, self._clients) if c is not None]
        await asyncio.shield(asyncio.gather(*both))  # a cancel meanwhile does not skip the second

    async def cluster(self) -> ClusterState:
        """describe_cluster plus ApiVersions (what kafka-broker-api-versions shows)."""
        desc = await self._call("describe cluster", self.admin.describe_cluster())
        # aiokafka has no public ApiVersions call; the admin's request helper sends it.
        versions = await self._call("api versions", self.admin._send_request(ApiVersionRequest()))
        return ClusterState(
            cluster_id=desc.get("cluster_id"),
            controller_id=desc.get("controller_id"),
            brokers=[f"{b['node_id']}@{b['host']}:{b['port']}" for b in desc.get("brokers", [])],
            api_versions=len(versions.api_versions),
        )

    async def list_topics(self) -> list[str]:
        return list(await self._call("list topics", self.admin.list_topics()))

    async def create_partitions(self, topic: str, total: int) -> None:
        """Grow `topic` to `total` partitions (Kafka never shrinks them)."""
        await self._call("create partitions", self.admin.create_partitions({topic: NewPartitions(total)}))

    async def group_ids(self) -> list[str]:
        groups = await self._call("list groups", self.admin.list_consumer_groups())
        return sorted(g[0] for g in groups if len(g) < 2 or g[1] in ("consumer", ""))

    async def _batched(self, what: str, request: Any, node: int | None = None) -> Any | None:
        """Send a many-groups request; None when the broker predates it (Kafka < 3.0)."""
        try:
            return await self._call(what, self.admin._send_request(request, node))
        except BackendError as err:
            if isinstance(err.__cause__, IncompatibleBrokerVersion | NotImplementedError):
                return None
            raise

    async def coordinators(self, group_ids: list[str]) -> dict[str, int]:
        """Each group's coordinator broker (one FindCoordinator v4 for all, else one per group),
        remembered for this probe."""
        missing = [g for g in group_ids if g not in self._coordinators]
        if missing:
            resp = await self._batched("find coordinators", FindCoordinators(missing))
            for c in resp.coordinators if resp is not None else []:
                if c[4] == 0:  # error_code
                    self._coordinators[c[0]] = c[1]
            missing = [g for g in missing if g not in self._coordinators]
            found = await asyncio.gather(
                *(self._call(f"coordinator of {g}", self.admin.find_coordinator(g)) for g in missing)
            )
            self._coordinators.update(zip(missing, found, strict=True))
        return {g: self._coordinators[g] for g in group_ids}

    async def committed(self, group_ids: list[str]) -> dict[str, dict[TopicPartition, int]]:
        """Committed offsets per group: one OffsetFetch v8 per coordinator, else one per group."""
        by_node: dict[int, list[str]] = {}
        for g, node in (await self.coordinators(group_ids)).items():
            by_node.setdefault(node, []).append(g)
        out: dict[str, dict[TopicPartition, int]] = {}
        for node, groups in by_node.items():
            resp = await self._batched("fetch offsets", OffsetFetchGroups(groups), node)
            for g in resp.groups if resp is not None else []:
                gid, topics, error_code = g[0], g[1], g[2]
                if error_code == 0:
                    out[gid] = {
                        TopicPartition(t[0], p[0]): p[1] for t in topics for p in t[1] if p[4] == 0 and p[1] >= 0
                    }
        rest = [g for g in group_ids if g not in out]  # an old broker, or a group-level error to report
        fetched = await asyncio.gather(
            *(
                self._call(f"offsets of {g}", self.admin.list_consumer_group_offsets(g, self._coordinators[g]))
                for g in rest
            )
        )
        for gid, committed in zip(rest, fetched, strict=True):
            out[gid] = {tp: om.offset for tp, om in committed.items() if om.offset >= 0}
        return out

    async def describe(self, group_ids: list[str]) -> dict[str, GroupState]:
        """State, members and assignments of classic and consumer-protocol groups.

        One ConsumerGroupDescribe per coordinator first (KIP-848 groups answer it); the
        groups it does not know are classic and get one DescribeGroups per coordinator."""
        by_node: dict[int, list[str]] = {}
        for g, node in (await self.coordinators(group_ids)).items():
            by_node.setdefault(node, []).append(g)
        out: dict[str, GroupState] = {}
        classic: dict[int, list[str]] = {}
        for node, groups in by_node.items():
            try:
                resp = await self._call(
                    "describe groups", self.admin._send_request(ConsumerGroupDescribe(groups), node)
                )
            except BackendError as err:
                if not isinstance(err.__cause__, IncompatibleBrokerVersion):
                    raise
                classic[node] = groups  # a broker before Kafka 3.7 has classic groups only
                continue
            for g in resp.groups:
                error_code, gid, state, members = g[0], g[2], g[3], g[7]
                if error_code == 0:
                    assigned = {TopicPartition(t[1], p) for m in members for t in m[8][0] for p in t[2]}
                    out[gid] = GroupState(gid, state, len(members), protocol="consumer", assigned=assigned)
                else:
                    classic.setdefault(node, []).append(gid)
        for node, groups in classic.items():
            resp = await self._call("describe groups", self.admin._send_request(ClassicDescribe(groups), node))
            for g in resp.groups:
                error_code, gid, state, members = g[0], g[1], g[2], g[5]
                if error_code == 0:
                    assigned = {tp for m in members for tp in classic_assignment(m[4])}
                    out[gid] = GroupState(gid, state, len(members), assigned=assigned)
        return out

    async def snapshot(self, group_ids: list[str]) -> Snapshot:
        """Describe the groups and fetch committed, log-end (and where needed log-start) offsets."""
        await self.coordinators(group_ids)
        described, offsets = await asyncio.gather(self.describe(group_ids), self.committed(group_ids))
        groups: dict[str, GroupState] = {}
        for gid in group_ids:
            gs = described.get(gid) or GroupState(gid, "Unknown", 0)
            gs.offsets = offsets.get(gid, {})
            groups[gid] = gs
        partitions = sorted({tp for g in groups.values() for tp in (*g.offsets, *g.assigned)})
        ends: dict[TopicPartition, int] = {}
        starts: dict[TopicPartition, int] = {}
        if partitions:
            # Register all topics in one metadata request first; otherwise aiokafka fetches
            # metadata topic by topic with a backoff in between (seconds for 100 topics).
            topics = sorted({tp.topic for tp in partitions})
            await self._call("metadata", self.consumer._client.set_topics(topics))
            ends = await self._call("end offsets", self.consumer.end_offsets(partitions))
            starts = await self._call("start offsets", self.consumer.beginning_offsets(partitions))
            await count_control(self.reader, self._call, groups, ends, min(1.0, self.timeout_s))
        return Snapshot(time.time(), groups, ends, starts)

    async def produce_times(
        self, positions: list[tuple[TopicPartition, int]], budget_s: float
    ) -> dict[tuple[TopicPartition, int], float]:
        """When the message at each (partition, offset) was produced (its record timestamp, seconds
        since the epoch): the oldest message a group has not consumed. Positions no record answers
        within `budget_s` (deleted by retention, an empty log) are left out."""
        pending: dict[TopicPartition, list[int]] = {}
        for tp, offset in positions:
            pending.setdefault(tp, []).append(offset)
        out: dict[tuple[TopicPartition, int], float] = {}
        deadline = time.monotonic() + budget_s
        try:
            while pending and time.monotonic() < deadline:
                batch = {tp: offsets.pop() for tp, offsets in pending.items()}  # one position per partition a round
                pending = {tp: offsets for tp, offsets in pending.items() if offsets}
                self.consumer.assign(list(batch))
                for tp, offset in batch.items():
                    self.consumer.seek(tp, offset)
                waiting = set(batch)
                while waiting and (left := deadline - time.monotonic()) > 0:
                    got = await self._call("fetch", self.consumer.getmany(*waiting, timeout_ms=int(left * 1000)))
                    for tp, records in got.items():
                        first = next((r for r in records if r.offset >= batch[tp]), None)
                        if first is not None:
                            out[(tp, batch[tp])] = first.timestamp / 1000
                            waiting.discard(tp)
        finally:
            self.consumer.unsubscribe()
        return out

    async def topics(self, names: list[str]) -> dict[str, TopicState]:
        """Partition count, replication factor, under-replicated and offline partitions."""
        if not names:
            return {}
        described = await self._call("describe topics", self.admin.describe_topics(names))
        out: dict[str, TopicState] = {}
        for t in described:
            if t.get("error_code", 0) != 0:
                continue
            parts = t["partitions"]
            out[t["topic"]] = TopicState(
                name=t["topic"],
                partitions=len(parts),
                replication_factor=max((len(p["replicas"]) for p in parts), default=0),
                under_replicated=sorted(p["partition"] for p in parts if len(p["isr"]) < len(p["replicas"])),
                offline=sorted(p["partition"] for p in parts if p["leader"] in (-1, None)),
            )
        return out


async def commit_offsets(bootstrap: str, group: str, offsets: dict[TopicPartition, int], timeout_s: float) -> None:
    """Commit `offsets` for `group` from outside it (`kafka-consumer-groups --reset-offsets
    --execute`): Kafka accepts this only while the group has no active member, else BackendRefused."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=int(timeout_s * 1000),
    )
    what = f"commit offsets of {group}"
    clients = Clients(consumer, timeout_s=timeout_s)

    async def bounded(_what: str, aw: Any) -> Any:
        return await asyncio.wait_for(aw, timeout_s)

    try:
        await clients.start(bounded)
        consumer.assign(list(offsets))
        commit = consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        await asyncio.wait_for(commit, timeout_s * 2)  # aiokafka retries some refusals: bound them
    except Exception as err:
        raise backend_error(what, err, bootstrap, timeout_s) from err
    finally:
        await clients.close()
