"""What Prometheus saw, beside what a check's direct probe saw, and where the two disagree.

Where `ALP_PROMETHEUS__URL` is set, a latency probe (`latency`, `auth-latency`, `scheduler`,
`predictions`) also reads the service's request duration p95 from its Prometheus histogram
(`ALP_PROMETHEUS__DURATION_METRIC`, by `__SERVICE_LABEL`) over the same window the logs are read
(`logs.since_s`), judged against the same thresholds. The probe then gives three kinds of line:
the direct probe's own findings, Prometheus' figure (its query and window named), and — when both
saw something and judge it differently — a line saying they disagree, with both figures: neither
silently wins (the report's verdict is the worse of the two, and the disagreement is a warning).
`memory`'s usage probe (the metrics API, now) gets each container's peak working set over the same
window against its limit (cAdvisor's `container_memory_working_set_bytes` over kube-state-metrics'
`kube_pod_container_resource_limits`), judged at `thresholds.memory_limit_warn_ratio`.

Prometheus unreachable, refusing, or with no series for the service: its line is UNKNOWN (never
OK, and never CRITICAL for the service: the service was not measured). Unset: no line at all.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from commands.backends.errors import BackendError
from commands.backends.prometheus import Prometheus
from commands.config import ChecksConfig
from commands.graph.units import fmt_value
from commands.probes import Probe, backend_finding
from commands.report import Fields, Finding, Severity, Table

SOURCE = "prometheus"


@dataclass(frozen=True)
class PromFigure:
    """A figure Prometheus holds for a check: `expr` (instant PromQL, in seconds), its thresholds (ms)."""

    service: str
    what: str  # what the direct probe measures, for the disagreement line ("response_time")
    expr: str
    window_s: int
    warn_ms: float
    crit_ms: float

    def judge(self, ms: float) -> Severity:
        return Severity.CRITICAL if ms >= self.crit_ms else Severity.WARNING if ms >= self.warn_ms else Severity.OK


def p95_duration(cfg: ChecksConfig, service: str, what: str, warn_ms: float, crit_ms: float) -> PromFigure | None:
    """The service's request duration p95 over the logs' window, or None where Prometheus is not configured."""
    p = cfg.prometheus
    if not p.url:
        return None
    window = cfg.logs.since_s
    expr = (
        f"histogram_quantile(0.95, sum by (le) "
        f'(rate({p.duration_metric}_bucket{{{p.service_label}="{service}"}}[{window}s])))'
    )
    return PromFigure(service, what, expr, window, warn_ms, crit_ms)


async def _instant(cfg: ChecksConfig, expr: str, what: str, evidence: list[Any]) -> Any:
    """Prometheus' answer to `expr`, or an UNKNOWN finding naming `what` could not be read: no
    answer within `timeouts.probe_s` (and Prometheus' own `timeout_s`), or the backend's error."""
    limit = min(cfg.timeouts.probe_s, cfg.prometheus.timeout_s)
    try:
        async with Prometheus(cfg.prometheus) as prom:
            return await asyncio.wait_for(prom.query(expr), limit)
    except TimeoutError:
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{what} from Prometheus unknown: no answer within {limit:g}s",
            evidence=evidence,
        )
    except BackendError as err:
        f = backend_finding(SOURCE, err)
        return f.model_copy(
            update={"severity": Severity.UNKNOWN, "title": f"{what} from Prometheus unknown: {f.title}", "probe": ""}
        )


async def read_figure(cfg: ChecksConfig, fig: PromFigure) -> Finding:
    """Prometheus' line: the p95 judged, or UNKNOWN saying why it could not be read. Bounded by
    `timeouts.probe_s` (and Prometheus' own `timeout_s`), inside the probe's limit, so a hanging
    Prometheus never costs the direct probe's findings."""
    window = f"last {fig.window_s // 60} min"
    evidence = [Fields(items={"query": fig.expr, "window": window, "source": "Prometheus"})]
    answer = await _instant(cfg, fig.expr, f"{fig.service} request duration", evidence)
    if isinstance(answer, Finding):
        return answer
    values = [s.last for s in answer.series if s.last is not None]
    if not values:
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{fig.service}: Prometheus has no request duration series ({window}), nothing to compare",
            detail="check ALP_PROMETHEUS__DURATION_METRIC and __SERVICE_LABEL",
            evidence=evidence,
        )
    v = values[0]
    if not math.isfinite(v):
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{fig.service}: no requests in Prometheus over the {window} ({fmt_value(v, 's')}), nothing to judge",
            evidence=evidence,
        )
    ms = v * 1000
    return Finding(
        severity=fig.judge(ms),
        title=f"{fig.service} request duration (Prometheus): p95 {ms:.0f}ms over the {window}",
        detail=f"estimated from histogram buckets; thresholds: warning {fig.warn_ms:.0f}ms, "
        f"critical {fig.crit_ms:.0f}ms",
        evidence=evidence,
    )


def _figure_read(fig: PromFigure | MemoryFigure, f: Finding) -> bool:
    """Whether `f` carries the direct probe's figure itself (the logs' p95, the metrics API's usage
    table), not a finding about why there is none (no pods, scaled to 0, no values in the logs)."""
    for e in f.evidence:
        if isinstance(fig, PromFigure) and isinstance(e, Fields) and "p95" in e.items:
            return True
        if isinstance(fig, MemoryFigure) and isinstance(e, Table) and "of limit" in e.columns:
            return True
    return False


def disagreement(fig: PromFigure | MemoryFigure, direct: list[Finding], prom: Finding) -> list[Finding]:
    """A warning naming both figures when both were read and judge differently; none when they
    agree or Prometheus could not see (its UNKNOWN line says so). When the direct figure was not
    read (no pods, scaled to 0, no values in the logs) there is nothing to disagree with: one line
    says why beside Prometheus' figure, never "they disagree"."""
    if prom.severity is Severity.UNKNOWN:
        return []
    seen = [f for f in direct if f.severity is not Severity.UNKNOWN and _figure_read(fig, f)]
    if not seen:
        why = "; ".join(f.title for f in direct)[:200] or "no finding"
        source = "logs" if isinstance(fig, PromFigure) else "metrics API"
        figure = prom.title.split("): ", 1)[-1]
        return [
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{fig.service}: {fig.what} from the {source} not read ({why}); Prometheus {figure}",
                detail="nothing to compare: only Prometheus' figure was read",
            )
        ]
    mine = max(seen, key=lambda f: f.severity.rank)
    if mine.severity is prom.severity:
        return []
    return [
        Finding(
            severity=Severity.WARNING,
            title=f"{fig.service}: the direct probe and Prometheus disagree "
            f"({fig.what} {mine.severity.value.upper()}, Prometheus {prom.severity.value.upper()})",
            detail=f"direct: {mine.title}; Prometheus: {prom.title}. Neither is taken over the other: the logs "
            "hold the lines the service wrote (sampled, its own clock), Prometheus every request it counted; "
            "read both" + (f", and the chart (`alp graph {fig.service}`)" if isinstance(fig, PromFigure) else ""),
        )
    ]


@dataclass(frozen=True)
class MemoryFigure:
    """Each container's peak memory working set over the window against its limit (cAdvisor's
    `container_memory_working_set_bytes` over kube-state-metrics' `kube_pod_container_resource_limits`)."""

    service: str  # the namespace, for the lines
    what: str
    expr: str
    window_s: int
    warn_ratio: float


def memory_figure(cfg: ChecksConfig) -> MemoryFigure | None:
    if not cfg.prometheus.url:
        return None
    ns, window = cfg.namespace, cfg.logs.since_s
    expr = (
        f'max by (pod, container) (max_over_time(container_memory_working_set_bytes{{namespace="{ns}",container!=""}}'
        f"[{window}s])) / on (pod, container) max by (pod, container) "
        f'(kube_pod_container_resource_limits{{namespace="{ns}",resource="memory"}})'
    )
    return MemoryFigure(
        ns, "memory of the limit (metrics API, now)", expr, window, cfg.thresholds.memory_limit_warn_ratio
    )


async def read_memory(cfg: ChecksConfig, fig: MemoryFigure) -> Finding | list[tuple[str, float]]:
    """Prometheus' memory line: containers whose peak over the window reached the warning share of
    their limit (WARNING), else OK naming how many it saw; UNKNOWN when it could not be read."""
    window = f"last {fig.window_s // 60} min"
    evidence = [Fields(items={"query": fig.expr, "window": window, "source": "Prometheus"})]
    answer = await _instant(cfg, fig.expr, "Memory", evidence)
    if isinstance(answer, Finding):
        return answer
    rows = [
        (f"{s.labels.get('pod', '?')}/{s.labels.get('container', '?')}", s.last)
        for s in answer.series
        if s.last is not None and math.isfinite(s.last)
    ]
    if not rows:
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"Memory: Prometheus has no container memory with a limit in {fig.service} ({window})",
            detail="needs cAdvisor's container_memory_working_set_bytes and kube-state-metrics' resource limits",
            evidence=evidence,
        )
    return rows  # judged beside the cluster's own list (memory_finding)


def present_containers(direct: list[Finding]) -> set[str] | None:
    """The `pod/container`s the metrics API lists now (the direct usage table), or None when it was not read."""
    for f in direct:
        for e in f.evidence:
            if isinstance(e, Table) and "of limit" in e.columns:
                return {row[0] for row in e.rows if row}
    return None


def memory_finding(fig: MemoryFigure, rows: list[tuple[str, float]], present: set[str] | None) -> Finding:
    """Prometheus' memory line from (`pod/container`, peak share of limit) rows; a container over the
    warning share that the cluster no longer runs (not in `present`, the metrics API's list) is said
    gone: Prometheus remembers the window, the cluster has moved on (a restart or a rollout)."""
    window = f"last {fig.window_s // 60} min"
    evidence: list[Fields | Table] = [
        Fields(items={"query": fig.expr, "window": window, "source": "Prometheus"}),
        Table(columns=["pod/container", "peak of limit"], rows=[[n, f"{r:.0%}"] for n, r in rows]),
    ]
    high = sorted((r for r in rows if r[1] >= fig.warn_ratio), key=lambda r: -r[1])
    gone = {n for n, _ in high if present is not None and n not in present}
    shown = ", ".join(
        f"{name} {ratio:.0%}" + (" (gone: no longer in the cluster)" if name in gone else "")
        for name, ratio in high[:3]
    )
    return Finding(
        severity=Severity.WARNING if len(gone) < len(high) else Severity.OK,
        title=(
            f"Memory (Prometheus, peak over the {window}): {len(high)} container(s) above "
            f"{fig.warn_ratio:.0%} of their limit: {shown}"
            if high
            else f"Memory (Prometheus, peak over the {window}): {len(rows)} container(s) within limits"
        ),
        evidence=list(evidence),
    )


def beside(cfg: ChecksConfig, direct: Probe, fig: PromFigure | MemoryFigure | None) -> Probe:
    """`direct`'s findings, then Prometheus' figure and any disagreement (`direct` alone when `fig` is None).
    Both are read at once; `direct` failing fails the probe as before (run_probes words it)."""
    if fig is None:
        return direct

    async def probe() -> list[Finding]:
        prom_task = asyncio.ensure_future(
            read_figure(cfg, fig) if isinstance(fig, PromFigure) else read_memory(cfg, fig)
        )
        try:
            found = await direct()
        except BaseException:
            prom_task.cancel()
            raise
        read = await prom_task
        if isinstance(read, list):  # memory: judged beside the cluster's own list of containers
            assert isinstance(fig, MemoryFigure)
            prom = memory_finding(fig, read, present_containers(found))
        else:
            prom = read
        return [*found, prom, *disagreement(fig, found, prom)]

    return probe
