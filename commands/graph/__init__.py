"""`alp graph <service|PromQL> [--since 1h]`: the runbook's "Check monitoring dashboards", from Prometheus.

A configured service name graphs its RED figures (request rate, error ratio, duration p95, from
`ALP_PROMETHEUS__REQUESTS_METRIC` / `__DURATION_METRIC` by `__SERVICE_LABEL`); anything else is a
PromQL expression, validated by Prometheus itself (its error is the answer, never a traceback).
Each series is judged from its latest sample only where a threshold is known (RED figures against
`thresholds.response_time_*` and an error ratio of 1 % / 5 %); a typed expression is shown, not judged.
`data["graph"]` holds what the chart draws (commands/graph/chart.py) and `--json` prints:
`series[]` of {`labels`, `points` ([unix s, value]), `last`}.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commands.backends.errors import BackendError, BackendRefused
from commands.backends.prometheus import Prometheus, PrometheusQueryError, Series
from commands.config import ChecksConfig
from commands.durations import Duration, format_duration
from commands.probes import backend_finding
from commands.registry import STEPS, CheckContext, CheckResult, check
from commands.report import Fields, Finding, Severity

MAX_POINTS = 240  # points per series: the step is the window over this
ERROR_WARN, ERROR_CRIT = 0.01, 0.05


class GraphParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000, description="a service name, or a PromQL expression")
    since: Duration = Field("1h", validate_default=True, description="how far back: 15m, 1h, 1d")


def red_queries(cfg: ChecksConfig, service: str) -> list[tuple[str, str, str]]:
    """(what, PromQL, unit) of a service's rate, error ratio and duration p95."""
    p = cfg.prometheus
    sel = f'{p.service_label}="{service}"'
    win = "1m"
    return [
        ("requests/s", f"sum(rate({p.requests_metric}{{{sel}}}[{win}]))", "/s"),
        (
            "error ratio",
            f'sum(rate({p.requests_metric}{{{sel},code=~"5.."}}[{win}])) / sum(rate({p.requests_metric}{{{sel}}}[{win}]))',
            "",
        ),
        (
            "p95 duration",
            f"histogram_quantile(0.95, sum by (le) (rate({p.duration_metric}_bucket{{{sel}}}[{win}])))",
            "s",
        ),
    ]


def _fmt(v: float | None, unit: str) -> str:
    if v is None or math.isnan(v):
        return "no number (NaN)"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if unit == "s":
        return f"{v * 1000:.0f}ms"
    if unit == "":
        return f"{v:.2%}"
    return f"{v:.3g}{unit}"


def _judge(what: str, v: float | None, cfg: ChecksConfig) -> Severity:
    if v is None or math.isnan(v):
        return Severity.UNKNOWN
    if what == "error ratio":
        return Severity.CRITICAL if v >= ERROR_CRIT else Severity.WARNING if v >= ERROR_WARN else Severity.OK
    if what == "p95 duration":
        ms = v * 1000
        th = cfg.thresholds
        return (
            Severity.CRITICAL
            if ms >= th.response_time_crit_ms
            else Severity.WARNING
            if ms >= th.response_time_warn_ms
            else Severity.OK
        )
    return Severity.OK


def _series_json(series: list[Series]) -> list[dict[str, Any]]:
    def num(v: float) -> float | str:
        return v if math.isfinite(v) else str(v)  # JSON has no NaN/Inf: "nan", "inf"

    return [
        {
            "labels": s.labels,
            "points": [[t, num(v)] for t, v in s.points],
            "last": None if s.last is None else num(s.last),
        }
        for s in series
    ]


@check(
    "graph",
    summary="a service's request rate, errors and p95 (RED), or any PromQL, over a window, from Prometheus",
    runbook="General Troubleshooting — Check monitoring dashboards for anomalies",
    params=GraphParams,
    probes=("prometheus",),
    registry=STEPS,
)
async def graph(ctx: CheckContext, params: GraphParams) -> CheckResult:
    cfg = ctx.config
    if not cfg.prometheus.url:
        return CheckResult(
            [
                Finding(
                    severity=Severity.UNKNOWN,
                    title="Prometheus is not configured: nothing to graph",
                    detail="set ALP_PROMETHEUS__URL to Prometheus' base URL",
                    probe="prometheus",
                )
            ]
        )
    end = datetime.now(UTC)
    start = end - timedelta(seconds=params.since)
    step = max(params.since / MAX_POINTS, 1.0)
    services = {s.name for s in cfg.platform.services}
    is_service = params.query in services
    queries = red_queries(cfg, params.query) if is_service else [(params.query, params.query, "?")]
    window = f"last {format_duration(params.since)}, a point every {step:g}s"
    findings: list[Finding] = []
    drawn: list[dict[str, Any]] = []
    every: list[Series] = []
    try:
        async with Prometheus(cfg.prometheus) as prom:
            for what, expr, unit in queries:
                if not is_service:  # an instant query first: a bad or huge expression is refused cheaply
                    await prom.query(expr, end)
                answer = await prom.query_range(expr, start, end, step)
                every += answer.series
                drawn.append({"title": what, "unit": unit, "expr": expr, "series": _series_json(answer.series)})
                if not answer.series:
                    findings.append(
                        Finding(
                            severity=Severity.UNKNOWN,
                            title=f"{params.query} {what}: no series over the {window}"
                            if is_service
                            else f"`{expr}`: no series over the {window}",
                            detail="nothing matched: check the metric and label names",
                            probe="prometheus",
                        )
                    )
                    continue
                for s in answer.series[:10]:
                    last = s.last
                    sev = (
                        _judge(what, last, cfg)
                        if is_service
                        else (Severity.UNKNOWN if last is None or math.isnan(last) else Severity.OK)
                    )
                    name = f"{params.query} {what}" if is_service else s.name()
                    shown = _fmt(last, unit) if unit != "?" else (f"{last:g}" if last is not None else "none")
                    findings.append(
                        Finding(
                            severity=sev,
                            title=f"{name}: {shown} now",
                            detail=f"latest of {len(s.points)} point(s) over the {window}",
                            evidence=[Fields(items={"query": expr, "window": window})],
                            probe="prometheus",
                        )
                    )
                if len(answer.series) > 10:
                    findings.append(
                        Finding(
                            severity=Severity.OK,
                            title=f"and {len(answer.series) - 10} more series (the chart draws the first 10)",
                            probe="prometheus",
                        )
                    )
                for w in answer.warnings[:3]:
                    findings.append(
                        Finding(severity=Severity.WARNING, title=f"Prometheus warns: {w}", probe="prometheus")
                    )
    except PrometheusQueryError as err:
        return CheckResult(
            [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"Prometheus refused the query: {err.reason.removeprefix('not a valid query: ')}",
                    detail=f"query: {params.query}",
                    probe="prometheus",
                )
            ],
            {"usage_error": str(err)},
        )
    except BackendRefused as err:  # too many series, too large: what to do is in the reason
        return CheckResult([Finding(severity=Severity.UNKNOWN, title=f"Prometheus: {err.reason}", probe="prometheus")])
    except BackendError as err:
        return CheckResult([backend_finding("prometheus", err)])
    data = {
        "query": params.query,
        "since_s": params.since,
        "series": _series_json(every),
        "graph": {"title": params.query, "window": window, "panels": drawn},
    }
    return CheckResult(findings, data)
