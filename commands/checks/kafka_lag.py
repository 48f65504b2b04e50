"""`check kafka-lag`: the runbook's "Kafka Issues — High Consumer Lag".

Gathers what `kafka-consumer-groups --describe --all-groups`, `kafka-topics --describe` and
`kafka-broker-api-versions` show, samples offsets a few times, and judges each partition
with Burrow's rules (see `commands.burrow`).
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition
from pydantic import BaseModel, ConfigDict, Field

from commands.backends.kafka import ClusterState, KafkaProbe, KafkaUnavailable, Snapshot, TopicState
from commands.burrow import LagStatus, PartitionWindow, evaluate, lag_seconds
from commands.config import ChecksConfig
from commands.registry import CheckContext, CheckResult, check
from commands.report import Fields, Finding, Severity, Suggestion, Table

RUNBOOK = "Kafka Issues — High Consumer Lag"
log = logging.getLogger(__name__)


class KafkaLagParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str | None = Field(None, description="only this consumer group")
    samples: int | None = Field(None, ge=1, le=50, description="how many times to sample offsets")
    interval: float | None = Field(None, ge=0, le=60, description="seconds between samples")


@dataclass
class PartitionLag:
    topic: str
    partition: int
    committed: int
    end: int
    lag: int
    status: LagStatus
    lag_seconds: float | None
    window_fill: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed_offset": self.committed,
            "end_offset": self.end,
            "lag": self.lag,
            "status": self.status.value,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 1),
            "window": self.window_fill,
        }


@dataclass
class GroupLag:
    group: str
    state: str
    members: int
    partitions: list[PartitionLag]

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
        known = [p.lag_seconds for p in self.partitions if p.lag and p.lag_seconds is not None]
        return max(known) if known else None

    @property
    def topics(self) -> list[str]:
        return sorted({p.topic for p in self.partitions})

    def as_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "group": self.group,
            "state": self.state,
            "members": self.members,
            "status": self.status.value,
            "total_lag": self.total_lag,
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 1),
            "max_lag_partition": None
            if worst is None
            else {"topic": worst.topic, "partition": worst.partition, "lag": worst.lag},
            "window_fill": worst.window_fill if worst else "0/0",
            "partitions": [p.as_dict() for p in self.partitions],
        }


class LagTracker:
    """Commit windows per (group, topic, partition), fed by snapshots."""

    def __init__(self, window: int) -> None:
        self.window = window
        self.windows: dict[tuple[str, TopicPartition], PartitionWindow] = {}
        self.last: Snapshot | None = None

    def observe(self, snap: Snapshot) -> None:
        for gid, group in snap.groups.items():
            active = group.members > 0
            for tp, offset in group.offsets.items():
                end = snap.end_offsets.get(tp)
                if end is None:
                    continue
                w = self.windows.setdefault((gid, tp), PartitionWindow(self.window))
                w.observe(offset, end, snap.taken_at, active)
        self.last = snap

    def assess(self, now: float, allowed_lag: int) -> list[GroupLag]:
        """Judge every group of the last snapshot."""
        if self.last is None:
            return []
        out = []
        for gid, group in sorted(self.last.groups.items()):
            parts = []
            for tp, offset in sorted(group.offsets.items()):
                end = self.last.end_offsets.get(tp)
                w = self.windows.get((gid, tp))
                if end is None or w is None:
                    continue
                lag = max(end - offset, 0)
                parts.append(
                    PartitionLag(
                        tp.topic,
                        tp.partition,
                        offset,
                        end,
                        lag,
                        evaluate(w.commits, lag, now, allowed_lag),
                        lag_seconds(w.commits, lag),
                        w.fill,
                    )
                )
            out.append(GroupLag(gid, group.state, group.members, parts))
        return out


_SEVERITY = {
    LagStatus.OK: Severity.OK,
    LagStatus.WARN: Severity.WARNING,
    LagStatus.STALL: Severity.CRITICAL,
    LagStatus.STOP: Severity.CRITICAL,
    LagStatus.REWIND: Severity.CRITICAL,
}

_MEANING = {
    LagStatus.OK: "keeping up",
    LagStatus.WARN: "lag is growing: consumers are falling behind",
    LagStatus.STALL: "consumers are committing but the offset is not moving",
    LagStatus.STOP: "consumers stopped committing while messages keep waiting",
    LagStatus.REWIND: "a committed offset went backwards (offsets were reset or a consumer rewound)",
}


def _suggestions(g: GroupLag, topics: dict[str, TopicState], cfg: ChecksConfig) -> list[Suggestion]:
    """The runbook's remediations for this group's status."""
    deployment = cfg.platform.consumer_groups.get(g.group)
    partitions = sum(topics[t].partitions for t in g.topics if t in topics) or len(g.partitions)
    out: list[Suggestion] = []
    status = g.status
    if status is LagStatus.WARN:
        if deployment and g.members < partitions:
            replicas = min(partitions, max(g.members * 2, g.members + 1))
            out.append(
                Suggestion(
                    action="scale",
                    params={"deployment": deployment, "replicas": replicas},
                    why=f"{g.members} consumer(s) for {partitions} partition(s): more can share the load",
                )
            )
        for t in g.topics:
            if t in topics:
                out.append(
                    Suggestion(
                        action="add-partitions",
                        params={"topic": t, "partitions": max(topics[t].partitions * 2, 12)},
                        why="more partitions let more consumers work in parallel",
                    )
                )
    elif status in (LagStatus.STOP, LagStatus.STALL):
        if deployment:
            out.append(
                Suggestion(
                    action="restart",
                    params={"deployment": deployment},
                    why="consumers are stuck or gone; a rollout restart brings them back",
                )
            )
        out.append(
            Suggestion(
                action="reset-offsets",
                params={"group": g.group, "to": "latest"},
                why="last resort: skips the waiting messages (they are not processed)",
            )
        )
    elif status is LagStatus.REWIND:
        out.append(
            Suggestion(
                action="reset-offsets",
                params={"group": g.group, "to": "latest"},
                why="only if the rewind was a mistake: the audit log says who reset offsets",
            )
        )
    return out


def _group_finding(g: GroupLag, topics: dict[str, TopicState], cfg: ChecksConfig) -> Finding:
    worst = g.worst
    fields = {
        "status": g.status.value,
        "state": g.state,
        "members": str(g.members),
        "total lag": f"{g.total_lag:,}",
    }
    if worst is not None:
        fields["most lag"] = f"{worst.topic}[{worst.partition}] = {worst.lag:,}"
        fields["window"] = worst.window_fill
    if g.lag_seconds is not None:
        fields["behind by"] = f"~{g.lag_seconds:,.0f}s"
    rows = [
        [
            p.topic,
            str(p.partition),
            str(p.committed),
            str(p.end),
            str(p.lag),
            p.status.value,
        ]
        for p in g.partitions
    ]
    title = f"Consumer group {g.group}: {g.status.value}"
    if g.status is not LagStatus.OK or g.total_lag:
        title += f", lag {g.total_lag:,}"
    return Finding(
        severity=_SEVERITY[g.status],
        title=title,
        detail=_MEANING[g.status],
        probe="groups",
        evidence=[
            Fields(items=fields),
            Table(columns=["topic", "partition", "committed", "end", "lag", "status"], rows=rows),
        ],
        suggestions=_suggestions(g, topics, cfg),
    )


def _topic_findings(topics: dict[str, TopicState], expected: list[str]) -> list[Finding]:
    out = []
    for name in expected:
        t = topics.get(name)
        if t is None:
            out.append(
                Finding(
                    severity=Severity.WARNING,
                    title=f"Topic {name} does not exist",
                    detail="The platform expects it (config platform.topics).",
                    probe="topics",
                )
            )
    for t in topics.values():
        bad = t.offline or t.under_replicated
        out.append(
            Finding(
                severity=Severity.CRITICAL if t.offline else Severity.WARNING if bad else Severity.OK,
                title=f"Topic {t.name}: {t.partitions} partition(s), replication {t.replication_factor}"
                + (f", offline {t.offline}" if t.offline else "")
                + (f", under-replicated {t.under_replicated}" if t.under_replicated else ""),
                probe="topics",
            )
        )
    return out


def _broker_finding(cluster: ClusterState, bootstrap: str) -> Finding:
    return Finding(
        severity=Severity.OK,
        title=f"Kafka reachable at {bootstrap}",
        probe="broker",
        evidence=[
            Fields(
                items={
                    "brokers": ", ".join(cluster.brokers) or "none",
                    "controller": str(cluster.controller_id),
                    "API keys": str(cluster.api_versions),
                }
            )
        ],
    )


def unreachable(bootstrap: str, err: Exception) -> Finding:
    """The finding for a broker the bot cannot reach."""
    return Finding(
        severity=Severity.CRITICAL,
        title=f"Kafka unreachable at {bootstrap}",
        detail=str(err),
        probe="broker",
        suggestions=[],
    )


class LagWatcher:
    """Keeps commit windows warm: samples every consumer group every `interval_s` seconds.

    The running bot starts one; `check kafka-lag` then judges over minutes of history
    instead of the few seconds a one-shot check can sample."""

    def __init__(self, cfg: ChecksConfig) -> None:
        self.cfg = cfg
        self.interval_s = cfg.kafka_lag.watch_interval_s
        self.tracker = LagTracker(cfg.kafka_lag.window)
        self.started_at = time.time()
        self.errors = 0

    def snapshot_tracker(self) -> LagTracker:
        """A copy to add a fresh sample to, without disturbing the watcher's own windows."""
        return copy.deepcopy(self.tracker)

    async def sample_once(self) -> None:
        async with KafkaProbe(self.cfg.kafka_bootstrap, self.cfg.timeouts.probe_s) as probe:
            self.tracker.observe(await probe.snapshot(await probe.group_ids()))

    async def run(self) -> None:
        WATCHERS[self.cfg.kafka_bootstrap] = self
        try:
            while True:
                try:
                    await self.sample_once()
                except KafkaUnavailable as err:
                    self.errors += 1
                    log.warning("lag watcher: %s", err)
                await asyncio.sleep(self.interval_s)
        finally:
            WATCHERS.pop(self.cfg.kafka_bootstrap, None)


WATCHERS: dict[str, LagWatcher] = {}


async def sample_lag(probe: KafkaProbe, groups: list[str], tracker: LagTracker, samples: int, interval: float) -> None:
    """Take `samples` snapshots `interval` seconds apart into the tracker."""
    for i in range(samples):
        if i:
            await asyncio.sleep(interval)
        tracker.observe(await probe.snapshot(groups))


@check(
    "kafka-lag",
    summary="consumer lag per group and partition, judged over a window (Burrow's rules)",
    runbook=RUNBOOK,
    params=KafkaLagParams,
    probes=("broker", "groups", "topics"),
)
async def kafka_lag(ctx: CheckContext, params: KafkaLagParams) -> CheckResult:
    cfg = ctx.config
    settings = cfg.kafka_lag
    samples = params.samples or settings.samples
    interval = settings.interval_s if params.interval is None else params.interval
    try:
        async with KafkaProbe(cfg.kafka_bootstrap, cfg.timeouts.probe_s) as probe:
            cluster = await probe.cluster()
            await ctx.report_progress("broker", "done")
            known = await probe.group_ids()
            findings: list[Finding] = [_broker_finding(cluster, cfg.kafka_bootstrap)]
            groups = known
            if params.group:
                if params.group not in known:
                    close = difflib.get_close_matches(params.group, known, n=3, cutoff=0.4)
                    hint = f" Did you mean {', '.join(close)}?" if close else ""
                    findings.append(
                        Finding(
                            severity=Severity.WARNING,
                            title=f"No consumer group named {params.group}",
                            detail=f"Known groups: {', '.join(known) or 'none'}.{hint}",
                            probe="groups",
                        )
                    )
                    return CheckResult(findings, {"groups": [], "known_groups": known})
                groups = [params.group]
            watcher = WATCHERS.get(cfg.kafka_bootstrap)
            if watcher is not None and watcher.tracker.last is not None and params.samples is None:
                # The bot has been sampling all along: judge over its window plus two fresh samples
                # (two, so a group the watcher has not seen yet still gets a window to judge).
                tracker = watcher.snapshot_tracker()
                await sample_lag(probe, groups, tracker, 2, min(interval, 1.0))
                source = {"source": "warm", "interval_s": watcher.interval_s, "since": watcher.started_at}
            else:
                tracker = LagTracker(settings.window)
                await sample_lag(probe, groups, tracker, samples, interval)
                source = {"source": "sampled", "samples": samples, "interval_s": interval}
            assessed = tracker.assess(time.time(), settings.allowed_lag)
            await ctx.report_progress("groups", "done")
            topic_names = sorted({t for g in assessed for t in g.topics} | set(cfg.platform.topics))
            topics = await probe.topics(topic_names)
            await ctx.report_progress("topics", "done")
    except KafkaUnavailable as err:
        return CheckResult([unreachable(cfg.kafka_bootstrap, err)], {"broker": {"reachable": False}})

    if not assessed:
        findings.append(
            Finding(severity=Severity.OK, title="No consumer groups have committed offsets", probe="groups")
        )
    findings += [_group_finding(g, topics, cfg) for g in assessed]
    findings += _topic_findings(topics, cfg.platform.topics if not params.group else [])
    data = {
        "broker": {
            "reachable": True,
            "brokers": cluster.brokers,
            "controller_id": cluster.controller_id,
            "cluster_id": cluster.cluster_id,
            "api_versions": cluster.api_versions,
        },
        "groups": [g.as_dict() for g in assessed],
        "topics": [
            {
                "topic": t.name,
                "partitions": t.partitions,
                "replication_factor": t.replication_factor,
                "under_replicated": t.under_replicated,
                "offline": t.offline,
            }
            for t in topics.values()
        ],
        "window": source,
    }
    return CheckResult(findings, data)
