"""`graph`'s parts that need no server: words to a request (PromQL as typed), Prometheus' JSON to
series (NaN, Inf, too many series), and the chart's breaks at gaps."""

from __future__ import annotations

import json
import math

import pytest

from bot.router import CheckRequest, parse
from commands.backends.prometheus import _decode, _TooMany
from commands.graph.chart import _with_gaps, graph_png
from commands.params import UsageError


def test_promql_is_taken_as_typed_with_its_quotes_braces_and_spaces() -> None:
    req = parse('graph sum by (service) (rate(http_requests_total{code=~"5.."}[5m])) --since 30m')
    assert isinstance(req, CheckRequest) and req.spec.name == "graph"
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
