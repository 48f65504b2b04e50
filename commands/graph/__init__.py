"""`alp graph <service|PromQL> [--since 1h]`: the runbook's "Check monitoring dashboards", from Prometheus.

A configured service name graphs its RED figures (request rate, error ratio, duration p95, from
`ALP_PROMETHEUS__REQUESTS_METRIC` / `__DURATION_METRIC` by `__SERVICE_LABEL`); anything else is a
PromQL expression, validated by Prometheus itself (its error is the answer, never a traceback: a
query it refuses as malformed is `data["usage_error"]`, exit 64 in the terminal).
Each series is judged from its latest sample only where a threshold is known (RED figures against
`thresholds.response_time_*` and an error ratio of 1 % / 5 %); a typed expression is shown, not judged.
`data["graph"]` holds what the chart draws (commands/graph/chart.py) and `--json` prints:
`series[]` of {`labels`, `points` ([unix s, value]), `last`}.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from commands.backends.errors import BackendError, BackendRefused, BackendUnreachable
from commands.backends.prometheus import Prometheus, PrometheusQueryError, Series
from commands.config import ChecksConfig
from commands.durations import Duration, format_duration
from commands.graph.alert_expr import split_threshold
from commands.graph.units import fmt_value, number, unit_of
from commands.probes import backend_finding
from commands.registry import FIRST_STEPS, CheckContext, CheckResult, check
from commands.report import Fields, Finding, Severity

MAX_POINTS = 240  # points per series: the step is the window over this
ERROR_WARN, ERROR_CRIT = 0.01, 0.05


class GraphParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000, description="a service name, or a PromQL expression")
    since: Duration = Field("1h", validate_default=True, description="how far back: 15m, 1h, 1d")


def rate_window(step_s: float) -> str:
    """The range of `rate()` for a point every `step_s` seconds: at least a minute (four 15 s scrapes)
    and at least the step, so consecutive points' windows meet and no request between two points
    goes uncounted (a spike is averaged into its point, never skipped)."""
    return f"{max(60, math.ceil(step_s))}s"


NOW_STEP_S = 15.0  # "now" is read over rate[1m] at the end time, whatever the chart's step


def red_queries(cfg: ChecksConfig, service: str, step_s: float = 15.0) -> list[tuple[str, str, str]]:
    """(what, PromQL, unit) of a service's rate, error ratio and duration p95, for a point every `step_s`."""
    p = cfg.prometheus
    sel = f'{p.service_label}="{service}"'
    win = rate_window(step_s)
    return [
        ("requests/s", f"sum(rate({p.requests_metric}{{{sel}}}[{win}]))", "/s"),
        (
            "error ratio",
            f'sum(rate({p.requests_metric}{{{sel},code=~"5.."}}[{win}])) / sum(rate({p.requests_metric}{{{sel}}}[{win}]))',
            "ratio",
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
    return fmt_value(v, unit)


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


def _series_json(series: list[Series], title: str = "") -> list[dict[str, Any]]:
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


def red_panel(what: str, expr: str, unit: str, series: list[Series], cfg: ChecksConfig) -> dict[str, Any]:
    """One chart panel (commands/graph/chart.py's input): a service's error ratio and p95 carry their
    warning threshold (1 %, `thresholds.response_time_warn_ms`) as the panel's line; others none."""
    threshold = {
        "error ratio": (ERROR_WARN, f"warning {ERROR_WARN:.0%}"),
        "p95 duration": (
            cfg.thresholds.response_time_warn_ms / 1000,
            f"warning {cfg.thresholds.response_time_warn_ms:.0f}ms",
        ),
    }.get(what)
    panel: dict[str, Any] = {"title": what, "unit": unit, "expr": expr, "series": _series_json(series)}
    if threshold is not None:
        panel["threshold"], panel["threshold_label"] = threshold
    return panel


def _matching(instant: list[Series], labels: dict[str, str]) -> Series | None:
    return next((i for i in instant if i.labels == labels), None)


def series_finding(
    s: Series,
    what: str,
    expr: str,
    unit: str,
    is_service: bool,
    query: str,
    window: str,
    step: float,
    end: datetime,
    cfg: ChecksConfig,
    now: Series | None,
) -> Finding:
    """One series' line: judged for a service's RED figures, shown for a typed query, from `now`, the
    matching series of a separate instant query at `end` (a service's figures over the last minute),
    never from the chart's last point (on a long window a step-long average). `s` is the chart's
    series: its history (traffic earlier in the window) and, when `now` has no sample, its last point.

    No sample at `end` is not "now": a typed query's series that has points in the window ended (said
    "ended at HH:MM", shown, not judged: a resolved alert's `ALERTS`, a target gone); a service's
    figure is UNKNOWN, with the chart's last sample and its age. A service's
    request rate at 0 after traffic earlier in the window is CRITICAL (it stopped serving); its error
    ratio and p95 with no requests are "nothing to judge". NaN and ±Inf are never a verdict."""
    name = f"{query} {what}" if is_service else s.name() if s.labels else f"`{expr}`"  # `1/0` has no labels

    def said(v: float | None) -> str:
        return _fmt(v, unit if unit != "?" else unit_of(expr)) if v is not None else "none"

    evidence = [Fields(items={"query": expr, "window": window})]
    over = "over the last minute, " if is_service else ""
    detail = f"now: {over}read at {end:%H:%M:%S} UTC apart from the chart ({len(s.points)} point(s), {window})"
    if (now is None or now.last is None) and not is_service and s.points:
        ended = datetime.fromtimestamp(s.points[-1][0], UTC)
        return Finding(
            severity=Severity.OK,
            title=f"{name}: ended at {ended:%H:%M} UTC (its last, {said(s.last)}), no sample now",
            detail=f"{detail}; the series stopped inside the window (a resolved alert, a target gone): "
            "its history is in the chart",
            evidence=evidence,
            probe="prometheus",
            asked=True,
            judged=False,  # what was read, as typed: not a problem nor a verdict
        )
    if now is None or now.last is None:
        age = end.timestamp() - s.points[-1][0] if s.points else math.inf
        last_said = said(s.last)
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{name}: no sample now (the chart's last, {last_said}, is {format_duration(int(age))} old)"
            if s.points
            else f"{name}: no sample now",
            detail=detail,
            evidence=evidence,
            probe="prometheus",
        )
    last = now.last
    shown = said(last)
    finite = math.isfinite(last)
    if is_service and what == "requests/s" and last == 0:
        earlier = max((v for _, v in s.points if math.isfinite(v)), default=0.0)
        if earlier > 0:
            return Finding(
                severity=Severity.CRITICAL,
                title=f"{name}: 0/s now, {earlier:.3g}/s earlier in the window: it stopped serving",
                detail=detail,
                evidence=evidence,
                probe="prometheus",
            )
    if is_service and what != "requests/s" and not finite:
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{name}: no requests in the last minute, nothing to judge",
            detail=detail,
            evidence=evidence,
            probe="prometheus",
        )
    if not is_service:
        sev = Severity.OK if finite else Severity.UNKNOWN
        return Finding(
            severity=sev,
            title=f"{name}: {shown} now (shown, not judged)" if finite else f"{name}: {shown} now, no number",
            detail=detail + "; a typed query has no threshold: read the value and the chart",
            evidence=evidence,
            probe="prometheus",
            asked=True,  # the answer itself: never folded into a count
            judged=not finite,  # a value, no verdict (NaN/±Inf stay UNKNOWN: could not see)
        )
    sev = _judge(what, last, cfg)
    th = cfg.thresholds
    against = {
        "error ratio": f"warning from {ERROR_WARN:.0%}, critical from {ERROR_CRIT:.0%}",
        "p95 duration": f"estimated from histogram buckets; warning from {th.response_time_warn_ms:.0f}ms, "
        f"critical from {th.response_time_crit_ms:.0f}ms",
    }.get(what, "shown, not judged")
    return Finding(
        severity=sev,
        title=f"{name}: {shown} now",
        detail=f"{detail}; {against}",
        evidence=evidence,
        probe="prometheus",
        asked=what == "requests/s",  # the traffic, shown beside the verdicts: never folded into their count
        judged=what != "requests/s",  # no threshold: the neutral marker (0 after traffic is CRITICAL above)
    )


def beside_numbers(listed: list[Finding]) -> list[Finding]:
    """A typed query's series: one with no number now (NaN, ±Inf: an idle service's 0/0) beside
    series that have one, or that ended, was read like them: shown, not judged, never the whole
    answer UNKNOWN. Alone (`0/0`), nothing with a number was read: it stays UNKNOWN."""
    if not any(f.asked and not f.judged for f in listed):
        return listed
    return [
        f.model_copy(update={"severity": Severity.OK, "judged": False}) if f.asked and f.judged else f for f in listed
    ]


def _not_seen(err: BackendError) -> Finding:
    """Prometheus down, hanging or refusing the login: the figures were not seen, UNKNOWN (never CRITICAL:
    `graph` judges the service, and Prometheus being down says nothing of it)."""
    return backend_finding("prometheus", err).model_copy(update={"severity": Severity.UNKNOWN})


async def _nothing_matched(
    prom: Prometheus,
    query: str,
    what: str,
    expr: str,
    is_service: bool,
    window: str,
    start: datetime,
    end: datetime,
    step: float,
) -> Finding:
    """No series: a typed filter (`x > 1000`) whose series exist never held in the window (a shown
    answer, not judged); otherwise nothing matched the names (UNKNOWN: check them)."""
    cond = None if is_service else split_threshold(expr)
    if cond is not None:
        base = await prom.query_range(cond.base, start, end, step)
        if base.series:
            values = [v for s in base.series for _, v in s.points if math.isfinite(v)]
            peak = f"; its highest, {number(max(values))}" if values and cond.op in (">", ">=") else ""
            low = f"; its lowest, {number(min(values))}" if values and cond.op in ("<", "<=") else ""
            return Finding(
                severity=Severity.OK,
                title=f"`{expr}`: the condition never held in the window ({window})",
                detail=f"`{cond.base}` has {len(base.series)} series{peak}{low}, never {cond.text()}",
                probe="prometheus",
                asked=True,
                judged=False,
            )
    return Finding(
        severity=Severity.UNKNOWN,
        title=f"{query} {what}: no series over the {window}"
        if is_service
        else f"`{expr}`: no series over the {window}",
        detail="nothing matched: check the metric and label names",
        probe="prometheus",
    )


@check(
    "graph",
    summary="a service's request rate, errors and p95 (RED), or any PromQL, over a window, from Prometheus",
    runbook="General Troubleshooting — Check monitoring dashboards for anomalies",
    params=GraphParams,
    probes=("prometheus",),
    registry=FIRST_STEPS,
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
    queries = red_queries(cfg, params.query, step) if is_service else [(params.query, params.query, "?")]
    now_exprs = [e for _, e, _ in red_queries(cfg, params.query, NOW_STEP_S)] if is_service else [params.query]
    window = f"last {format_duration(params.since)}, a point every {step:g}s"
    if is_service and step > 60:
        window += f", each the average over its {format_duration(int(rate_window(step)[:-1]))}"
    findings: list[Finding] = []
    drawn: list[dict[str, Any]] = []
    every: list[dict[str, Any]] = []
    limit = cfg.prometheus.timeout_s
    try:
        async with asyncio.timeout(limit), Prometheus(cfg.prometheus) as prom:  # every read within the one timeout
            # a typed expression's instant read ("now") first: a bad or huge one is refused cheaply
            typed_now = [] if is_service else [await prom.query(params.query, end)]
            reads = [
                *typed_now,
                *await asyncio.gather(
                    *(prom.query(e, end) for e in (now_exprs if is_service else [])),
                    *(prom.query_range(e, start, end, step) for _, e, _ in queries),
                ),
            ]
            for (what, expr, unit), now_answer, answer in zip(
                queries, reads[: len(queries)], reads[len(queries) :], strict=True
            ):
                instant = now_answer.series  # "now", read apart from the chart
                every += _series_json(answer.series, what if is_service else "")
                drawn.append(red_panel(what, expr, unit, answer.series, cfg))
                if not answer.series:
                    findings.append(
                        await _nothing_matched(prom, params.query, what, expr, is_service, window, start, end, step)
                    )
                    continue
                listed = [
                    series_finding(
                        s,
                        what,
                        expr,
                        unit,
                        is_service,
                        params.query,
                        window,
                        step,
                        end,
                        cfg,
                        _matching(instant, s.labels),
                    )
                    for s in answer.series[:10]
                ]
                findings += listed if is_service else beside_numbers(listed)
                if len(answer.series) > 10:
                    findings.append(
                        Finding(
                            severity=Severity.OK,
                            title=f"and {len(answer.series) - 10} more series (the chart draws the first 10)",
                            probe="prometheus",
                            asked=True,
                            judged=False,  # a note on what is listed, never a check counted as OK
                        )
                    )
                for w in answer.warnings[:3]:
                    findings.append(
                        Finding(severity=Severity.WARNING, title=f"Prometheus warns: {w}", probe="prometheus")
                    )
    except PrometheusQueryError as err:  # malformed (bad_data): the words were wrong, a usage error (exit 64)
        said = f"Prometheus refused the query: {err.reason.removeprefix('not a valid query: ')}"
        return CheckResult(
            [Finding(severity=Severity.UNKNOWN, title=said, detail=f"query: {params.query}", probe="prometheus")],
            {"usage_error": f"{said}\nquery: {params.query}"},
        )
    except BackendRefused as err:  # too many series, too large: what to do is in the reason
        return CheckResult([Finding(severity=Severity.UNKNOWN, title=f"Prometheus: {err.reason}", probe="prometheus")])
    except TimeoutError:
        hung = BackendUnreachable("Prometheus", "query", f"no answer within {limit:g}s", address=cfg.prometheus.url)
        return CheckResult([_not_seen(hung)])
    except BackendError as err:
        return CheckResult([_not_seen(err)])
    data = {
        "query": params.query,
        "since_s": params.since,
        "series": every,
        "graph": {
            "title": params.query,
            "window": window,
            "start": start.timestamp(),
            "end": end.timestamp(),
            "panels": drawn,
        },
    }
    return CheckResult(findings, data)
