"""`graph`'s parts that need no server: words to a request (PromQL as typed), Prometheus' JSON to
series (NaN, Inf, too many series), and the chart's breaks at gaps."""

from __future__ import annotations

import json
import math

import pytest

from bot.router import CheckCommand, parse
from commands.backends.prometheus import _decode, _TooMany
from commands.graph.chart import _with_gaps, graph_png
from commands.params import UsageError


def test_promql_is_taken_as_typed_with_its_quotes_braces_and_spaces() -> None:
    req = parse('graph sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) --since 30m')
    assert isinstance(req, CheckCommand) and req.spec.name == "graph"
    assert req.params.query == 'sum by (service) (rate(http_requests_total{code=~"5.."}[5m]))'  # type: ignore[attr-defined]
    assert req.params.since == 1800  # type: ignore[attr-defined]
    assert parse('graph "up"').params.query == "up"  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="needs a service or a PromQL"):
        parse("graph")
    with pytest.raises(UsageError, match="not a duration"):
        parse("graph up --since soon")


def test_prometheus_json_nan_inf_and_too_many_series() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"a": "1"}, "values": [[1, "NaN"], [2, "+Inf"], [3, "-Inf"], [4, "1.5"]]}],
        },
    }
    kind, series, _ = _decode(json.dumps(body).encode(), 10)
    values = [v for _, v in series[0].points]
    assert kind == "matrix" and math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf
    assert series[0].last == 1.5
    many = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {"i": str(i)}, "value": [1, "1"]} for i in range(600)]},
    }
    with pytest.raises(_TooMany):
        _decode(json.dumps(many).encode(), 500)


def test_the_chart_breaks_its_line_at_a_gap_and_draws_no_nan() -> None:
    pts = [[t, 1.0] for t in range(0, 100, 10)] + [[t, 2.0] for t in range(370, 400, 10)]  # 4.5 min missing
    times, values = _with_gaps(pts)
    assert len(times) == len(values) == len(pts) + 1
    assert sum(1 for v in values if math.isnan(v)) == 1  # one break, where the samples stop
    png = graph_png(
        {
            "graph": {
                "title": "t",
                "window": "w",
                "panels": [{"title": "p", "unit": "", "series": [{"labels": {}, "points": pts}]}],
            }
        }
    )
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert graph_png({"graph": {"panels": [{"title": "p", "series": []}]}}) is None


def test_a_stale_sample_is_not_now_stopped_traffic_is_critical_and_typed_queries_are_not_judged() -> None:
    from datetime import UTC, datetime

    from commands.backends.prometheus import Series
    from commands.config import ChecksConfig
    from commands.graph import series_finding
    from commands.report import Severity

    end = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    t = end.timestamp()
    cfg = ChecksConfig()
    stale = Series({}, [(t - 900, 1.0), (t - 600, 1.0)])
    f = series_finding(stale, "p95 duration", "q", "s", True, "ml-service", "w", 15, end, cfg, None)  # none now
    assert f.severity is Severity.UNKNOWN and "no sample now" in f.title and "10m old" in f.title
    f = series_finding(stale, "up", "up", "?", False, "up", "w", 15, end, cfg, None)  # a typed series that ended
    assert "ended at 11:50 UTC" in f.title and not f.judged and f.severity is not Severity.UNKNOWN, f
    stopped = Series({}, [(t - 60, 12.0), (t - 30, 9.0), (t, 9.0)])  # the chart's last point: a step's average
    f = series_finding(stopped, "requests/s", "q", "/s", True, "ml-service", "w", 360, end, cfg, Series({}, [(t, 0.0)]))
    assert f.severity is Severity.CRITICAL and "stopped serving" in f.title  # judged from the instant read
    idle = Series({}, [(t, math.nan)])
    f = series_finding(idle, "error ratio", "q", "ratio", True, "ml-service", "w", 360, end, cfg, idle)
    assert f.severity is Severity.UNKNOWN and "no requests in the last minute" in f.title  # "now" is a minute
    typed = Series({}, [(t, 0.2)])
    f = series_finding(typed, "q", "q", "?", False, "q", "w", 15, end, cfg, typed)
    assert f.severity is Severity.OK and f.title.endswith("(shown, not judged)")
    inf = Series({}, [(t, math.inf)])
    assert series_finding(inf, "q", "q", "?", False, "q", "w", 15, end, cfg, inf).severity is Severity.UNKNOWN
    slow = Series({}, [(t, 0.1)])
    f = series_finding(slow, "p95 duration", "q", "s", True, "auth-service", "w", 15, end, cfg, Series({}, [(t, 2.5)]))
    assert f.severity is Severity.CRITICAL and "critical from 2000ms" in f.detail and "2.5s now" in f.title


def test_graph_usage_mistakes_are_said() -> None:
    with pytest.raises(UsageError, match="options after it"):
        parse("graph --since 5m up")
    with pytest.raises(UsageError, match="needs a duration"):
        parse("graph up --since")
    with pytest.raises(UsageError, match=r"not a configured service\. Did you mean `user-service`"):
        parse("graph user-servce")
