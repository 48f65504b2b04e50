"""`check kafka-lag`: the runbook's "Kafka Issues — High Consumer Lag".

Gathers what `kafka-consumer-groups --describe --all-groups`, `kafka-topics --describe` and
`kafka-broker-api-versions` show, samples offsets a few times, and judges each partition
with Burrow's rules (see `commands.checks.kafka_lag.burrow`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commands.backends.errors import BackendError, BackendUnreachable
from commands.backends.kafka import ClusterState, KafkaProbe, TopicState
from commands.checks.kafka_lag.assess import assess, set_waited, waiting_positions
from commands.checks.kafka_lag.burrow import LagStatus
from commands.checks.kafka_lag.findings import DETAILED, LISTED, group_finding, headline
from commands.checks.kafka_lag.history import History, LagTracker, LagWatcher, load
from commands.config import ChecksConfig
from commands.probes import failure_finding
from commands.registry import CheckContext, CheckResult, check, closest
from commands.report import Fields, Finding, Severity

__all__ = ["KafkaLagParams", "LagTracker", "LagWatcher", "kafka_lag", "unreachable"]

RUNBOOK = "Kafka Issues — High Consumer Lag"
KNOWN_LISTED = 20  # group names named when --group matches none


class KafkaLagParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: str | None = Field(None, description="only this consumer group")
    samples: int | None = Field(None, ge=1, le=50, description="sample this many times instead of the shared history")
    interval: float | None = Field(None, ge=0, le=60, description="seconds between samples")
    all: bool = Field(False, description="every group and partition, not only those that are not OK")


def _topic_findings(topics: dict[str, TopicState], expected: list[str]) -> list[Finding]:
    """Missing expected topics and topics with offline or under-replicated partitions; the rest
    as one count line."""
    out = [
        Finding(
            severity=Severity.WARNING,
            title=f"Topic {name} does not exist",
            detail="The platform expects it (config platform.topics).",
            probe="topics",
        )
        for name in expected
        if name not in topics
    ]
    healthy = []
    for t in topics.values():
        if not (t.offline or t.under_replicated):
            healthy.append(t.name)
            continue
        out.append(
            Finding(
                severity=Severity.CRITICAL if t.offline else Severity.WARNING,
                title=f"Topic {t.name}: {t.partitions} partition(s), replication {t.replication_factor}"
                + (f", offline {t.offline}" if t.offline else "")
                + (f", under-replicated {t.under_replicated}" if t.under_replicated else ""),
                probe="topics",
            )
        )
    if healthy:
        title = f"{len(healthy)} topic(s) OK: every partition led and fully replicated"
        out.append(Finding(severity=Severity.OK, title=title, probe="topics"))
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


async def _window(
    probe: KafkaProbe,
    cfg: ChecksConfig,
    params: KafkaLagParams,
    groups: list[str],
    progress: Callable[[str], Awaitable[None]],
) -> tuple[LagTracker, dict[str, Any], str]:
    """The shared history plus one fresh sample, or (no history, or --samples) samples taken now.
    Returns the tracker, the data's `window` and a sentence saying what was judged over."""
    settings = cfg.kafka_lag
    tracker = LagTracker(settings.window)
    history = History([]) if params.samples else await load(cfg, set(groups))
    if params.group and history.snapshots and params.group not in history.snapshots[-1].groups:
        history = History([], f"the bot has not sampled {params.group} yet")
    if history.snapshots:
        for snap in history.snapshots[-(settings.window - 1) :]:
            tracker.observe(snap)
        tracker.observe(await probe.snapshot(groups))
        span = tracker.span_s
        source = {"source": "history", "samples": tracker.samples, "span_s": round(span, 1)}
        return tracker, source, f"{tracker.samples} samples over {span:.0f}s (the shared history plus one now)"
    samples = params.samples or settings.samples
    interval = settings.interval_s if params.interval is None else params.interval
    for i in range(samples):
        if i:
            await asyncio.sleep(interval)
        tracker.observe(await probe.snapshot(groups))
        await progress(f"sample {i + 1} of {samples}")
    span = tracker.span_s
    why = (
        "as asked (--samples)"
        if params.samples
        else "no shared history: "
        + (history.error or "the bot is not sampling (alp-bot with ALP_KAFKA_LAG__WATCH_INTERVAL_S > 0)")
    )
    source = {"source": "sampled", "samples": samples, "interval_s": interval, "span_s": round(span, 1), "why": why}
    return tracker, source, f"{samples} samples over {span:.0f}s taken now: a short window ({why})"


def sampling_s(cfg: ChecksConfig, params: KafkaLagParams) -> float:
    """Seconds the sampling itself takes (samples - 1 intervals, one broker round per sample), added
    to the check's deadline."""
    samples = params.samples or cfg.kafka_lag.samples
    interval = cfg.kafka_lag.interval_s if params.interval is None else params.interval
    return (samples - 1) * interval + samples * cfg.timeouts.probe_s


@check(
    "kafka-lag",
    summary="consumer lag per group and partition, judged over a window (Burrow's words, its flaws fixed)",
    runbook=RUNBOOK,
    params=KafkaLagParams,
    probes=("broker", "groups", "topics"),
    extra_s=lambda cfg, p: sampling_s(cfg, p),
)
async def kafka_lag(ctx: CheckContext, params: KafkaLagParams) -> CheckResult:
    cfg = ctx.config
    settings = cfg.kafka_lag
    try:
        async with KafkaProbe(cfg.kafka_bootstrap, cfg.timeouts.probe_s) as probe:
            cluster, known = await asyncio.gather(probe.cluster(), probe.group_ids())
            await ctx.report_progress("broker", "done")
            findings: list[Finding] = []
            groups = known
            if params.group:
                if params.group not in known:
                    close = closest(params.group, known)
                    hint = f" Did you mean {', '.join(close)}?" if close else ""
                    names = ", ".join(known[:KNOWN_LISTED]) or "none"
                    if len(known) > KNOWN_LISTED:
                        names += f" and {len(known) - KNOWN_LISTED} more (--all lists every group)"
                    findings.append(
                        Finding(  # nothing to judge: "could not see" is UNKNOWN, never a verdict on a group
                            severity=Severity.UNKNOWN,
                            title=f"No consumer group named {params.group}: its lag could not be seen",
                            detail=f"Kafka lists no such group (never created, a typo, or its offsets expired: "
                            f"offsets.retention.minutes).{hint} Known groups: {names}.",
                            probe="groups",
                        )
                    )
                    return CheckResult(findings, {"groups": [], "known_groups": known})
                groups = [params.group]
            tracker, source, window = await _window(
                probe, cfg, params, groups, lambda state: ctx.report_progress("groups", state)
            )
            assessed = assess(tracker, settings.allowed_lag, settings.stall_window_s, cfg.platform.consumer_groups)
            positions = waiting_positions([g for g in assessed if g.status is not LagStatus.OK][:LISTED], 500)
            produced = await probe.produce_times(positions, min(1.0, cfg.timeouts.probe_s)) if positions else {}
            assessed = set_waited(assessed, produced, time.time())
            await ctx.report_progress("groups", "done")
            topic_names = sorted({t for g in assessed for t in g.topics} | set(cfg.platform.topics))
            topics = await probe.topics(topic_names)
            await ctx.report_progress("topics", "done")
    except BackendError as err:
        if isinstance(err, BackendUnreachable):
            return CheckResult([unreachable(cfg.kafka_bootstrap, err)], {"broker": {"reachable": False}})
        return CheckResult([failure_finding("broker", err, cfg.timeouts.probe_s, cfg)], {"broker": {"reachable": True}})

    partitions = {name: t.partitions for name, t in topics.items()}
    show_all = params.all or bool(params.group)
    detailed = [g for g in assessed if show_all or g.status is not LagStatus.OK]
    own = [group_finding(g, partitions, cfg, show_all) for g in detailed[: None if show_all else DETAILED]]
    # one group with its own finding: that finding is the answer (the headline's row would repeat it)
    head = headline(assessed, window, show_all, params.group)
    findings = own if len(assessed) == 1 and len(own) == 1 else [head, *own]
    if findings is own:
        own[0].detail += f". Judged over {window}."
        for ev in own[0].evidence:  # the window once: said in the detail
            if isinstance(ev, Fields):
                ev.items.pop("window", None)
    findings += _topic_findings(topics, cfg.platform.topics if not params.group else [])
    findings.append(_broker_finding(cluster, cfg.kafka_bootstrap))
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
        "chart": {g.group: g.series() for g in assessed if g.status is not LagStatus.OK},
    }
    return CheckResult(findings, data)
