"""An alert's own expression, graphed and judged: "still firing" or "back under the threshold since HH:MM".

For the alerts of one Alertmanager group (webhook dicts: `labels`, `startsAt`, `generatorURL`), each
distinct rule expression (`generatorURL`'s `g0.expr`, commands/graph/alert_expr.py) is queried over a
window around the firing (from 15 minutes before the earliest `startsAt`, at least the last hour, at
most a day) as the series the rule compares (`base`), so the chart shows the values and the threshold,
not only the samples that passed. Each alert is matched to its series by labels (the series' labels
are a subset of the alert's) and judged from the samples alone (`alert_expr.state`). The result is
data: `AlertGraph.lines` for the message, `AlertGraph.graph` for commands/graph/chart.py.

Failures are lines, never exceptions: Prometheus unreachable, a refused query, no series — each said.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from commands.backends.errors import BackendError
from commands.backends.prometheus import Prometheus, Series
from commands.config import PrometheusSettings
from commands.graph.alert_expr import Condition, State, expr_of, split_threshold, state
from commands.graph.units import fmt_value, unit_of
from commands.masking.redact import redact
from commands.report import Finding, Severity

MAX_EXPRS = 3  # rules graphed per group (one chart each)
MAX_POINTS = 240
BEFORE_S = 15 * 60
MIN_WINDOW_S, MAX_WINDOW_S = 3600, 24 * 3600


@dataclass
class AlertGraph:
    """One rule expression of a group: the message's lines and the chart's data."""

    expr: str  # masked
    condition: Condition | None
    lines: list[str] = field(default_factory=list)
    graph: dict[str, Any] | None = None  # commands/graph/chart.py's input; None when nothing to draw
    states: dict[str, str] = field(default_factory=dict)  # fingerprint -> firing | under | unknown
    judged: list[tuple[str, str]] = field(default_factory=list)  # (firing | under | unknown, its line) per alert


def _parse_time(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    if t.year < 1970:  # Alertmanager's zero time
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _matches(series: Series, alert_labels: dict[str, str]) -> bool:
    return all(alert_labels.get(k) == v for k, v in series.labels.items() if k != "__name__")


def _conflicts(series: Series, alert_labels: dict[str, str]) -> bool:
    """A label both have with different values: another target's series, not this alert's."""
    return any(k in alert_labels and alert_labels[k] != v for k, v in series.labels.items() if k != "__name__")


def _same_series(a: dict[str, str], b: dict[str, str]) -> bool:
    """The same series in two answers (`max_over_time` drops the metric name)."""
    return {k: v for k, v in a.items() if k != "__name__"} == {k: v for k, v in b.items() if k != "__name__"}


def judged_points(
    chart: list[tuple[float, float]], latest: Series | None, now: float, step_s: float
) -> tuple[list[tuple[float, float]], float | None]:
    """The points a state is judged from: the chart's history before its last step (on a long window
    each point is its step's extreme, so the last one is no "now"), then the plain expression's sample
    at `now`, and the staleness limit to judge them by (0 when the plain expression has no sample now:
    its last value is not known to hold)."""
    if step_s <= 60:
        return chart, None  # the chart draws the plain expression itself
    history = [p for p in chart if p[0] <= now - step_s]
    if latest is None or latest.last is None:
        return history, 0.0
    return [*history, (now, latest.last)], None


def window_text(seconds: float) -> str:
    """ "last 45 min", "last 20 h" (a window over two hours in hours, never "last 1215 min")."""
    minutes = round(seconds / 60)
    return f"last {minutes} min" if minutes < 120 and minutes % 60 else f"last {round(minutes / 60)} h"


def _hhmm(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M")


def _minutes(seconds: float) -> str:
    """A span for people: "under a minute", "4 min", "2 h 5 min" (a sample a rounding after now is 0)."""
    m = int(max(seconds, 0) // 60)
    if m == 0:
        return "under a minute"
    return f"{m} min" if m < 120 else f"{m // 60} h {m % 60} min"


def judged_line(
    name: str,
    st: State,
    cond: Condition | None,
    unit: str,
    now: float,
    window_start: float | None = None,
    alert_status: str = "",
) -> str:
    """One alert's sentence, from its series' state (`window_start`: unix s of the window's first point;
    `alert_status`: Alertmanager's, "firing" or "resolved")."""
    th = f"threshold {cond.op} {fmt_value(cond.threshold, unit)}" if cond else "the rule's condition"
    if st.kind == "firing":
        value = f": {fmt_value(st.value, unit)} now, {th}" if cond else ""
        if st.since is not None and window_start is not None and st.since <= window_start:
            since = f" (over since at least {_hhmm(st.since)} UTC, the window's start)"
        else:
            since = f" (over since {_hhmm(st.since)} UTC)" if st.since else ""
        return f"{name}: still firing{value}{since}"
    if st.kind == "unknown" and st.value is not None and math.isnan(st.value):
        return f"{name}: the latest sample is NaN (no number): cannot say whether it still fires"
    if st.kind == "under" and st.since is not None and not st.held_in_window and cond is not None:
        value = f": {fmt_value(st.value, unit)} now, {th}" if st.value is not None else ""
        where = "over" if cond.op in (">", ">=") else "under" if cond.op in ("<", "<=") else "at"
        disagree = "; Alertmanager says firing while the expression does not hold" if alert_status == "firing" else ""
        return (
            f"{name}: not {where} the threshold at any point since at least {_hhmm(st.since)} UTC "
            f"(the window's start){value}{disagree}"
        )
    if st.kind == "under" and st.since is not None:
        value = f": {fmt_value(st.value, unit)} now, {th}" if st.value is not None and cond else ""
        what = (
            "back under the threshold"
            if cond and cond.op in (">", ">=")
            else "back over the threshold"
            if cond and cond.op in ("<", "<=")
            else "the condition no longer holds"
        )
        return f"{name}: {what} since {_hhmm(st.since)} UTC ({_minutes(now - st.since)}){value}"
    if st.since is not None:
        return (
            f"{name}: no recent sample (the last at {_hhmm(st.since)} UTC, {_minutes(now - st.since)} ago): "
            "cannot say whether it still fires"
        )
    return f"{name}: no sample in the window: cannot say whether it still fires"


def drawn_expr(base: str, cond: Condition | None, step_s: float) -> str:
    """What is drawn of a rule's series at `step_s` a point: the series itself while a point comes
    every minute or less; on longer steps its extreme within each step, on the firing side
    (`max_over_time` for `>`/`>=`, `min_over_time` for `<`/`<=`, a subquery at Prometheus' own
    evaluation interval), so a spike that fired between two points is not lost on a long window."""
    if step_s <= 60 or cond is None or cond.op in ("==", "!="):
        return base
    agg = "max_over_time" if cond.op in (">", ">=") else "min_over_time"
    return f"{agg}(({base})[{int(step_s)}s:])"


def _host(url: str) -> str:
    """`host:port` of a URL, lower case, the scheme's default port filled in ("" when none)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        return ""
    return f"{(parts.hostname or '').lower()}:{port}" if parts.hostname else ""


def _alert_name(labels: dict[str, str]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    return labels.get("alertname", "alert") + "{" + shown[:150] + "}"


def _foreign(
    settings: PrometheusSettings, alerts: list[dict[str, Any]]
) -> tuple[AlertGraph | None, list[dict[str, Any]]]:
    """(the alerts whose generatorURL names another Prometheus than `url` or `external_urls`, said and
    not judged — their expression is another Prometheus' data — or None; the other alerts)."""
    mine = {_host(u) for u in [settings.url or "", *settings.external_urls]} - {""}
    result = AlertGraph("", None)
    rest: list[dict[str, Any]] = []
    for a in alerts:
        host = _host(str(a.get("generatorURL") or ""))
        if not host or host in mine:
            rest.append(a)
        else:
            labels = {str(k): str(v) for k, v in (a.get("labels") or {}).items()}
            line = redact(f"{_alert_name(labels)}: from another Prometheus ({host.removesuffix(':80')}): not judged")
            result.lines.append(line)
            result.states[str(a.get("fingerprint", ""))] = "unknown"
            result.judged.append(("unknown", line))
    return (result if result.lines else None), rest


async def alert_graphs(settings: PrometheusSettings, alerts: list[dict[str, Any]], now: datetime) -> list[AlertGraph]:
    """The group's rule expressions graphed and judged (empty when Prometheus is not configured).
    Alerts from another Prometheus (`_foreign`) are said, not judged."""
    if not settings.url:
        return []
    out: list[AlertGraph] = []
    foreign, alerts = _foreign(settings, alerts)
    if foreign is not None:
        out.append(foreign)
    by_expr: dict[str, list[dict[str, Any]]] = {}
    without: list[dict[str, Any]] = []
    for a in alerts:
        expr = expr_of(str(a.get("generatorURL") or ""))
        (by_expr.setdefault(expr, []) if expr else without).append(a)
    if without:
        names = sorted({str(a.get("labels", {}).get("alertname", "?")) for a in without})
        out.append(
            AlertGraph(
                "",
                None,
                [f"{', '.join(names)[:200]}: no expression in the alert's generatorURL (g0.expr): nothing to graph"],
            )
        )
    exprs = list(by_expr.items())
    try:
        async with Prometheus(settings) as prom:
            for expr, group in exprs[:MAX_EXPRS]:
                out.append(await _one(prom, expr, group, now))
    except BackendError as err:
        out.append(AlertGraph("", None, [f"the alert's expression could not be graphed: {err}"]))
    if len(exprs) > MAX_EXPRS:
        out.append(AlertGraph("", None, [f"and {len(exprs) - MAX_EXPRS} more rule expression(s), not graphed"]))
    return out


async def _one(prom: Prometheus, expr: str, alerts: list[dict[str, Any]], now: datetime) -> AlertGraph:
    cond = split_threshold(expr)
    base = cond.base if cond else expr
    unit = unit_of(base)
    starts = [t for a in alerts if (t := _parse_time(str(a.get("startsAt", "")))) is not None]
    first = min(starts, default=now)
    span = (now - first).total_seconds() + BEFORE_S
    window = min(max(span, MIN_WINDOW_S), MAX_WINDOW_S)
    start = now - timedelta(seconds=window)
    step = max(window / MAX_POINTS, 1.0)
    masked = redact(expr)
    result = AlertGraph(masked, cond)
    try:
        answer = await prom.query_range(drawn_expr(base, cond, step), start, end=now, step_s=step)
        latest = (await prom.query(base, now)).series if step > 60 else []
    except BackendError as err:
        result.lines.append(f"`{masked[:300]}`: could not be graphed: {err}")
        return result
    t_now = now.timestamp()
    firing_spans: list[tuple[float, float]] = []
    drawn: list[Series] = []
    for a in alerts:
        labels = {str(k): str(v) for k, v in (a.get("labels") or {}).items()}
        name = _alert_name(labels)
        carried = {k for s in answer.series for k in s.labels}
        other = {
            k: v
            for k, v in labels.items()
            if k in prom.settings.source_labels and k not in carried and prom.settings.external_labels.get(k) != v
        }
        if other:
            said = ", ".join(f"{k}={v}" for k, v in sorted(other.items()))
            result.lines.append(f"{name}: carries {said}, which this Prometheus' series lack: not matched, not judged")
            result.states[str(a.get("fingerprint", ""))] = "unknown"
            result.judged.append(("unknown", result.lines[-1]))
            continue
        mine = [s for s in answer.series if _matches(s, labels)]
        if not mine and len(answer.series) == 1 and not _conflicts(answer.series[0], labels):
            mine = answer.series  # an aggregate without the alert's labels (`sum(…) > 1`): the one series
        if not mine:
            result.lines.append(f"{name}: its series is not in the expression's answer now: cannot say")
            result.states[str(a.get("fingerprint", ""))] = "unknown"
            result.judged.append(("unknown", result.lines[-1]))
            continue
        s = mine[0]
        pts, stale_s = judged_points(
            s.points, next((i for i in latest if _same_series(i.labels, s.labels)), None), t_now, step
        )
        st = state(pts, cond, t_now, step, stale_s)
        first_t = s.points[0][0] if s.points else None
        result.lines.append(redact(judged_line(name, st, cond, unit, t_now, first_t, str(a.get("status", "")))))
        result.states[str(a.get("fingerprint", ""))] = st.kind
        result.judged.append((st.kind, result.lines[-1]))
        firing_spans += st.over_spans
        if s not in drawn:
            drawn.append(s)
    if not answer.series:
        result.lines.append(f"`{masked[:300]}`: no series over the window: nothing to graph")
    for s in answer.series:  # the other series of the rule, for comparison, up to the chart's 10 lines
        if s not in drawn and len(drawn) < 10:
            drawn.append(s)
    alert_name = str(alerts[0].get("labels", {}).get("alertname", "alert"))
    result.graph = {
        "title": f"{alert_name} ({cond.op} {fmt_value(cond.threshold, unit)})" if cond else alert_name,
        "window": window_text(window)
        + (
            f", a point every {int(step // 60)} min, each its step's {'maximum' if cond.op in ('>', '>=') else 'minimum'}"
            if cond and step > 60 and cond.op not in ("==", "!=")
            else ""
        ),
        "start": start.timestamp(),
        "end": now.timestamp(),
        "panels": [
            {
                "title": redact(base),
                "unit": unit,
                "expr": masked,
                "threshold": cond.threshold if cond else None,
                "threshold_label": f"threshold {cond.text()}" if cond else None,
                "firing": sorted(set(firing_spans)),
                "series": [
                    {
                        "labels": s.labels,
                        "points": [[t, v if math.isfinite(v) else str(v)] for t, v in s.points],
                    }
                    for s in drawn
                ],
            }
        ],
    }
    if not drawn:
        result.graph = None
    return result


def recovery_findings(graphs: list[AlertGraph]) -> list[Finding]:
    """The runbook's recovery item "Check monitoring dashboards", judged: each alert expression's
    current value against its threshold as a finding (still over: WARNING, the remedy has not
    brought it under yet; back under: OK, since when; no sample or Prometheus not read: UNKNOWN)."""
    severity = {"firing": Severity.WARNING, "under": Severity.OK, "unknown": Severity.UNKNOWN}
    out: list[Finding] = []
    for g in graphs:
        said = {line for _, line in g.judged}
        for kind, line in g.judged:
            out.append(
                Finding(
                    severity=severity.get(kind, Severity.UNKNOWN),
                    title=f"alert expression {line}",
                    detail=f"`{g.expr[:300]}` read from Prometheus now (the rule's own expression)",
                    probe="alert-expressions",
                )
            )
        out += [
            Finding(severity=Severity.UNKNOWN, title=f"alert expression: {line}", probe="alert-expressions")
            for line in g.lines
            if line not in said
        ]
    return out
