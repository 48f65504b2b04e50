"""One consumer-lag history for every process: windows built from snapshots kept in Redis.

One process samples (whoever holds the Redis lease `alp:kafka-lag:<bootstrap>:sampler`; the
running alp-bot tries every `watch_interval_s`) and appends each snapshot to the Redis list
`alp:kafka-lag:<bootstrap>:samples`, trimmed to `window` entries. Every process that judges
lag (each bot replica, the terminal `alp`) replays that list into a `LagTracker`, adds one
fresh sample of its own, and so judges over the same minutes of history. Redis is used, not the
state store: the history is disposable (losing it only shortens the next window) and shared
by all replicas already through Redis. Decoding the stored snapshots (tens of them, each every
group's offsets) runs in a worker process (`commands.runtime.cpu.off_process`), each snapshot decoded
once; encoding a new one in a worker thread (`commands.runtime.cpu.off_loop`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import pickle
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis.asyncio as aioredis
from aiokafka import TopicPartition
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from commands.backends.errors import BackendError
from commands.backends.kafka import GroupState, KafkaProbe, Snapshot
from commands.checks.kafka_lag.burrow import PartitionWindow, Sample
from commands.config import ChecksConfig
from commands.runtime.cpu import off_loop, off_process

log = logging.getLogger(__name__)

Key = tuple[str, TopicPartition]
START_DELAY_S = 10.0  # after start-up: recovery and the first pages go first


class LagTracker:
    """Sample windows per (group, topic, partition), fed by snapshots in time order."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.windows: dict[Key, PartitionWindow] = {}
        self.last: Snapshot | None = None
        self.samples = 0
        self.first_at: float | None = None

    def observe(self, snap: Snapshot) -> None:
        for gid, group in snap.groups.items():
            live = group.members > 0
            for tp in {*group.offsets, *group.assigned}:
                end = snap.end_offsets.get(tp)
                if end is None:
                    continue
                offset = group.offsets.get(tp)
                start = snap.start_offsets.get(tp, 0)
                # Below the log start nothing is left to read: lag counts from there (as a consumer
                # would, after its offset reset), and never the transaction markers.
                base = max(offset, start) if offset is not None else start
                markers = group.control.get(tp, 0) if offset is not None and offset >= start else 0
                w = self.windows.get((gid, tp))
                if w is None:
                    w = self.windows[(gid, tp)] = PartitionWindow(self.window)
                w.samples.append(Sample(offset, snap.taken_at, max(end - base - markers, 0), end, live))
        self.samples += 1
        self.first_at = snap.taken_at if self.first_at is None else self.first_at
        self.last = snap

    @property
    def span_s(self) -> float:
        if self.last is None or self.first_at is None:
            return 0.0
        return self.last.taken_at - self.first_at


# ---------------------------------------------------------------------- snapshot codec
def encode(snap: Snapshot) -> str:
    """A snapshot as compact JSON: offsets grouped by topic, partitions as keys."""

    def by_topic(tps: Iterable[TopicPartition], value: dict[TopicPartition, int] | None = None) -> dict[str, object]:
        out: dict[str, dict[str, int]] = {}
        for tp in tps:
            out.setdefault(tp.topic, {})[str(tp.partition)] = value[tp] if value is not None else 1
        return out  # type: ignore[return-value]

    groups = {
        gid: [
            g.state,
            g.members,
            g.protocol,
            by_topic(g.offsets, g.offsets),
            by_topic(g.assigned),
        ]
        for gid, g in snap.groups.items()
    }
    # transaction markers under their own key: a process of an older version reading this shared
    # history ignores it (a sixth field per group would break its unpacking)
    control = {gid: by_topic(g.control, g.control) for gid, g in snap.groups.items() if g.control}
    return json.dumps(
        {
            "t": snap.taken_at,
            "g": groups,
            "e": by_topic(snap.end_offsets, snap.end_offsets),
            "s": by_topic(snap.start_offsets, snap.start_offsets),
            **({"c": control} if control else {}),
        },
        separators=(",", ":"),
    )


def decode(text: str | bytes, only: set[str] | None = None) -> Snapshot:
    """The snapshot `encode` wrote, restricted to the groups in `only` when given."""
    body = json.loads(text)

    def tps(topics: dict[str, dict[str, int]]) -> dict[TopicPartition, int]:
        return {TopicPartition(t, int(p)): v for t, parts in topics.items() for p, v in parts.items()}

    groups: dict[str, GroupState] = {}
    markers = body.get("c", {})
    for gid, (state, members, protocol, offsets, assigned, *_) in body["g"].items():
        if only is None or gid in only:
            control = tps(markers.get(gid, {}))
            groups[gid] = GroupState(gid, state, members, tps(offsets), protocol, set(tps(assigned)), control)
    topics = {tp.topic for g in groups.values() for tp in (*g.offsets, *g.assigned)}
    ends = {tp: v for tp, v in tps({t: p for t, p in body["e"].items() if t in topics}).items()}
    starts = {tp: v for tp, v in tps({t: p for t, p in body["s"].items() if t in topics}).items()}
    return Snapshot(body["t"], groups, ends, starts)


# ---------------------------------------------------------------------- Redis
def _keys(bootstrap: str) -> tuple[str, str]:
    return f"alp:kafka-lag:{bootstrap}:samples", f"alp:kafka-lag:{bootstrap}:sampler"


def _client(cfg: ChecksConfig) -> aioredis.Redis:
    t = cfg.timeouts.probe_s
    return aioredis.from_url(cfg.redis_url, socket_timeout=t, socket_connect_timeout=t)


@dataclass
class History:
    """The shared snapshots a check replays (empty when Redis is unreachable or nobody samples)."""

    snapshots: list[Snapshot]
    error: str | None = None


async def load(cfg: ChecksConfig, only: set[str] | None = None) -> History:
    """The stored snapshots no older than `kafka_lag.history_s`, oldest first; none, with why, when
    Redis cannot be read or a sampler holds its lease (`LagWatcher`) but has stored no sample yet."""
    samples_key, lease_key = _keys(cfg.kafka_bootstrap)
    client = _client(cfg)
    try:
        raw, sampler = await asyncio.wait_for(
            asyncio.gather(client.lrange(samples_key, 0, -1), client.exists(lease_key)), cfg.timeouts.probe_s
        )
    except (RedisError, OSError, TimeoutError) as err:
        return History([], f"Redis: {type(err).__name__}: {err}")
    finally:
        await client.aclose()
    oldest = time.time() - cfg.kafka_lag.history_s
    snapshots = await _decoded(raw, only, 2 * cfg.kafka_lag.window, oldest)
    if not snapshots and sampler:  # a bot holds the sampler's lease: it started moments ago
        return History([], "the bot's sampler has taken no sample yet (it has just started)")
    return History(snapshots)


# digest -> snapshot: a long-running bot decodes each stored one once; at most 2 x kafka_lag.window
_DECODED: dict[bytes, Snapshot] = {}


async def _decoded(raw: list[bytes | str], only: set[str] | None, keep: int, oldest: float) -> list[Snapshot]:
    """The snapshots in `raw`, restricted to `only`, no older than `oldest`, without holding the
    event loop: the ones not decoded before are decoded in a worker process and come back each
    pickled on its own, unpickled one per turn of the loop (a snapshot of 1,000 groups takes
    about 0.15 s to decode from JSON and 0.03 s to unpickle)."""
    keys = [hashlib.blake2b(r if isinstance(r, bytes) else r.encode(), digest_size=16).digest() for r in raw]
    missing = {k: r for k, r in zip(keys, raw, strict=True) if k not in _DECODED}
    if missing:
        blobs = await off_process(_decode_pickled, list(missing.values()))
        for key, blob in zip(missing, blobs, strict=True):
            _DECODED[key] = pickle.loads(blob)
            await asyncio.sleep(0)
        while len(_DECODED) > max(keep, len(keys)):
            del _DECODED[next(iter(_DECODED))]
    out = []
    for key in keys:
        snap = _DECODED[key]
        if snap.taken_at < oldest:
            continue
        if only is not None:
            groups = {g: s for g, s in snap.groups.items() if g in only}
            snap = Snapshot(snap.taken_at, groups, snap.end_offsets, snap.start_offsets)
        out.append(snap)
    return out


def _decode_pickled(raw: list[bytes | str]) -> list[bytes]:
    """In a worker process: each stored text decoded (`decode`) and pickled on its own."""
    return [pickle.dumps(decode(r), pickle.HIGHEST_PROTOCOL) for r in raw]


class LagWatcher:
    """The sampler: every `watch_interval_s`, the process holding the lease samples every group
    and appends the snapshot to the shared history. Started by alp-bot; the others wait."""

    def __init__(self, cfg: ChecksConfig) -> None:
        self.cfg = cfg
        self.interval_s = cfg.kafka_lag.watch_interval_s
        self.samples_key, lease_key = _keys(cfg.kafka_bootstrap)
        self.redis = _client(cfg)
        lease_s = max(3 * self.interval_s, 5.0)
        self.lease = Lock(self.redis, lease_key, timeout=lease_s, blocking=False)
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.errors = 0
        self.cycles: list[float] = []  # seconds each sampling cycle took (the last 100)

    async def _hold(self) -> bool:
        """Take or renew the lease; False while another process samples."""
        if self.lease.local.token is not None:
            try:
                await self.lease.reacquire()
                return True
            except LockError:
                self.lease.local.token = None
        return bool(await self.lease.acquire(token=self.owner.encode()))

    async def sample_once(self, probe: KafkaProbe) -> bool:
        """One cycle; True when this process sampled (it holds the lease)."""
        if not await self._hold():
            return False
        await self._sweep(probe)
        return True

    async def _sweep(self, probe: KafkaProbe) -> None:
        """Sample every group and append the snapshot to the shared history."""
        t0 = time.perf_counter()
        snap = await probe.snapshot(await probe.group_ids())
        pipe = self.redis.pipeline()
        pipe.rpush(self.samples_key, await off_loop(encode, snap))
        pipe.ltrim(self.samples_key, -self.cfg.kafka_lag.window, -1)
        await pipe.execute()
        self.cycles = [*self.cycles[-99:], time.perf_counter() - t0]

    async def run(self) -> None:
        probe: KafkaProbe | None = None
        try:
            # let the bot finish starting (escalation recovery, first pages) before the first sweep
            await asyncio.sleep(min(self.interval_s, START_DELAY_S))
            while True:
                try:
                    if await self._hold():  # a replica that does not sample opens no Kafka client either
                        if probe is None:
                            probe = await KafkaProbe(self.cfg.kafka_bootstrap, self.cfg.timeouts.probe_s).__aenter__()
                        await self._sweep(probe)
                    elif probe is not None:
                        await probe.close()
                        probe = None
                except (BackendError, RedisError, OSError) as err:
                    self.errors += 1
                    log.warning("lag sampler: %s", err)
                    if probe is not None:
                        await probe.close()
                        probe = None
                await asyncio.sleep(self.interval_s)
        finally:
            if probe is not None:
                await probe.close()
            try:
                if self.lease.local.token is not None:
                    await self.lease.release()
            except (LockError, RedisError, OSError):
                pass
            await self.redis.aclose()
