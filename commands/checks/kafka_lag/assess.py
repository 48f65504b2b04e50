"""Consumer groups judged from their sample windows: the data behind `check kafka-lag`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition

from commands.checks.kafka_lag.burrow import LagStatus, PartitionWindow, evaluate, lag_seconds
from commands.checks.kafka_lag.history import LagTracker
from commands.report import Severity


@dataclass
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: assigned, never committed (lag counts from the log start)
    end: int
    lag: int
    status: LagStatus
    lag_seconds: float | None  # the oldest waiting message's age, else lag over the produce rate
    window: PartitionWindow

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed_offset": self.committed,
            "end_offset": self.end,
            "lag": self.lag,
            "status": self.status.value,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 1),
            "window": self.window.fill,
        }


@dataclass
class GroupLag:
    group: str
    state: str
    members: int
    protocol: str
    partitions: list[PartitionLag]
    deployment: str | None = None
    stale: list[str] = field(default_factory=list)  # "topic[p]" with offsets no live member reads (not judged)

    @property
    def status(self) -> LagStatus:
        return max((p.status for p in self.partitions), key=lambda s: s.rank, default=LagStatus.OK)

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def worst(self) -> PartitionLag | None:
        return max(self.partitions, key=lambda p: p.lag, default=None)

    @property
    def lag_seconds(self) -> float | None:
        """The most any partition is behind, in seconds; None when unknown."""
        if self.total_lag == 0:
            return 0.0
        lagging = [p for p in self.partitions if p.lag]
        if any(p.lag_seconds is None for p in lagging):
            return None
        return max(p.lag_seconds or 0.0 for p in lagging)

    @property
    def topics(self) -> list[str]:
        return sorted({p.topic for p in self.partitions})

    @property
    def arriving(self) -> bool:
        """Messages were produced to its partitions within the window."""
        return any(p.window.samples[-1].end_offset > p.window.samples[0].end_offset for p in self.partitions)

    @property
    def growing(self) -> bool:
        """Its lag is higher now than at the start of the window."""
        return sum(p.window.samples[-1].lag for p in self.partitions) > sum(
            p.window.samples[0].lag for p in self.partitions
        )

    @property
    def no_commit(self) -> list[PartitionLag]:
        return [p for p in self.partitions if p.committed is None]

    @property
    def severity(self) -> Severity:
        return SEVERITY[self.status]

    def sort_key(self) -> tuple[bool, bool, int, int, float, int]:
        """Worst first: lag growing now (a live problem before an old one), a platform group (one
        with a consuming deployment in config) before others, severity, status, time behind, lag."""
        return (
            not self.growing,
            self.deployment is None,
            -self.severity.rank,
            -self.status.rank,
            -(self.lag_seconds or 0),
            -self.total_lag,
        )

    def series(self) -> list[list[float]]:
        """[timestamp, total lag] over the window, for the chart."""
        by_time: dict[float, int] = {}
        for p in self.partitions:
            for s in p.window.samples:
                by_time[s.timestamp] = by_time.get(s.timestamp, 0) + s.lag
        return [[t, lag] for t, lag in sorted(by_time.items())]

    def as_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "group": self.group,
            "state": self.state,
            "members": self.members,
            "protocol": self.protocol,
            "deployment": self.deployment,
            "status": self.status.value,
            "severity": self.severity.value,
            "total_lag": self.total_lag,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 1),
            "max_lag_partition": None
            if worst is None
            else {"topic": worst.topic, "partition": worst.partition, "lag": worst.lag},
            "window_fill": worst.window.fill if worst else "0/0",
            "partitions": [p.as_dict() for p in self.partitions],
            "stale_offsets": self.stale,
        }


SEVERITY = {
    LagStatus.OK: Severity.OK,
    LagStatus.WARN: Severity.WARNING,
    LagStatus.UNKNOWN: Severity.UNKNOWN,
    LagStatus.STALL: Severity.CRITICAL,
    LagStatus.STOP: Severity.CRITICAL,
    LagStatus.REWIND: Severity.CRITICAL,
}


def waiting_positions(groups: list[GroupLag], limit: int) -> list[tuple[TopicPartition, int]]:
    """(partition, offset) of the oldest waiting message of each lagging partition, worst groups first."""
    out = []
    for g in groups:
        for p in g.partitions:
            if p.lag and p.status is not LagStatus.OK:
                out.append((TopicPartition(p.topic, p.partition), p.end - p.lag))
    return out[:limit]


def set_waited(groups: list[GroupLag], produced: dict[tuple[TopicPartition, int], float], now: float) -> list[GroupLag]:
    """Behind-by from record timestamps where known (more exact than the produce-rate estimate); worst first again."""
    for g in groups:
        for p in g.partitions:
            at = produced.get((TopicPartition(p.topic, p.partition), p.end - p.lag))
            if at is not None and p.lag:
                p.lag_seconds = max(now - at, 0.0)
    return sorted(groups, key=lambda g: (g.sort_key(), g.group))


def assess(tracker: LagTracker, allowed_lag: int, stall_window_s: float, deployments: dict[str, str]) -> list[GroupLag]:
    """Judge every group of the tracker's last snapshot, worst first."""
    last = tracker.last
    if last is None:
        return []
    out = []
    for gid, group in last.groups.items():
        parts = []
        stale = [f"{tp.topic}[{tp.partition}]" for tp in sorted(group.offsets) if group.stale(tp)]
        for tp in sorted({*group.offsets, *group.assigned}):
            if group.stale(tp):
                continue
            w = tracker.windows.get((gid, tp))
            if w is None or not w.samples or w.samples[-1].timestamp != last.taken_at:
                continue
            now = w.samples[-1]
            parts.append(
                PartitionLag(
                    tp.topic,
                    tp.partition,
                    now.offset,
                    now.end_offset,
                    now.lag,
                    evaluate(w.samples, allowed_lag, stall_window_s),
                    lag_seconds(w.samples),
                    w,
                )
            )
        if parts or stale:
            out.append(GroupLag(gid, group.state, group.members, group.protocol, parts, deployments.get(gid), stale))
    return sorted(out, key=lambda g: (g.sort_key(), g.group))
