"""Kafka through aiokafka: cluster, consumer groups, committed and log-end offsets."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions
from aiokafka.protocol.admin import ApiVersionRequest


class KafkaUnavailable(Exception):
    """The broker could not be reached or did not answer in time."""


@dataclass
class GroupState:
    """A consumer group as the coordinator describes it, with its committed offsets."""

    group_id: str
    state: str
    members: int
    offsets: dict[TopicPartition, int] = field(default_factory=dict)


@dataclass
class Snapshot:
    """One sample of every group's committed offsets and the log-end offsets."""

    taken_at: float
    groups: dict[str, GroupState]
    end_offsets: dict[TopicPartition, int]


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

    Every call is bounded by `timeout_s`; a refused or silent broker raises KafkaUnavailable.
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
        self.consumer = AIOKafkaConsumer(**common, client_id="alp-offsets", group_id=None, enable_auto_commit=False)

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except TimeoutError:
            raise KafkaUnavailable(f"{what}: no answer within {self.timeout_s:g}s") from None
        except KafkaUnavailable:
            raise
        except Exception as err:
            raise KafkaUnavailable(f"{what}: {type(err).__name__}: {err}") from err

    async def __aenter__(self) -> KafkaProbe:
        try:
            await self._call("connect", self.admin.start())
            await self._call("connect", self.consumer.start())
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        for closer in (self.consumer.stop, self.admin.close):
            try:
                await asyncio.wait_for(closer(), self.timeout_s)
            except Exception:  # closing a half-open client must not hide the real error
                pass

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

    async def snapshot(self, group_ids: list[str]) -> Snapshot:
        """Describe the groups and fetch committed and log-end offsets, concurrently."""
        # One DescribeGroups request per group: aiokafka 0.14 fails to decode a response that
        # describes several groups at once ("Buffer underrun decoding string").
        described, offsets = await asyncio.gather(
            asyncio.gather(
                *(self._call(f"describe group {g}", self.admin.describe_consumer_groups([g])) for g in group_ids)
            ),
            asyncio.gather(
                *(self._call(f"offsets of {g}", self.admin.list_consumer_group_offsets(g)) for g in group_ids)
            ),
        )
        groups: dict[str, GroupState] = {}
        for responses in described:
            for g in (g for response in responses for g in response.groups):
                error_code, gid, state = g[0], g[1], g[2]
                if error_code == 0:
                    groups[gid] = GroupState(gid, state, len(g[5]))
        for gid, committed in zip(group_ids, offsets, strict=True):
            gs = groups.setdefault(gid, GroupState(gid, "Unknown", 0))
            gs.offsets = {tp: om.offset for tp, om in committed.items() if om.offset >= 0}
        partitions = sorted({tp for g in groups.values() for tp in g.offsets})
        ends: dict[TopicPartition, int] = {}
        if partitions:
            # Register all topics in one metadata request first; otherwise aiokafka fetches
            # metadata topic by topic with a backoff in between (seconds for 100 topics).
            topics = sorted({tp.topic for tp in partitions})
            await self._call("metadata", self.consumer._client.set_topics(topics))
            ends = await self._call("end offsets", self.consumer.end_offsets(partitions))
        return Snapshot(time.time(), groups, ends)

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
