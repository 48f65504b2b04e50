"""An alert's rule expression read apart (series and threshold) and judged from its samples alone."""

from __future__ import annotations

import math

import pytest

from commands.graph.alert_expr import Condition, expr_of, split_threshold, state
from commands.graph.alert_graph import judged_line
from commands.graph.units import fmt_value, unit_of


def test_the_expression_is_read_from_the_generator_url() -> None:
    url = (
        "http://vm:9090/graph?g0.expr=histogram_quantile%280.95%2C+sum+by+%28service%2C+le%29+%28rate%28"
        "http_request_duration_seconds_bucket%5B30s%5D%29%29%29+%3E+0.5&g0.tab=1"
    )
    assert (
        expr_of(url)
        == "histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[30s]))) > 0.5"
    )
    assert expr_of("http://prometheus.example:9090/graph") is None
    assert expr_of("") is None and expr_of("not a url at all") is None


@pytest.mark.parametrize(
    ("expr", "base", "op", "threshold"),
    [
        ("up == 0", "up", "==", 0.0),
        ('rate(errors_total{path=~"a>b|c<d"}[5m]) > 1e3', 'rate(errors_total{path=~"a>b|c<d"}[5m])', ">", 1000.0),
        ("0.9 < node_memory_ratio", "node_memory_ratio", ">", 0.9),
        ("x >= bool 2", "x", ">=", 2.0),
        (
            'sum by (s) (rate(r_total{code=~"5.."}[1m])) / sum by (s) (rate(r_total[1m])) > 0.05',
            'sum by (s) (rate(r_total{code=~"5.."}[1m])) / sum by (s) (rate(r_total[1m]))',
            ">",
            0.05,
        ),
        ('kafka_lag{group!="x"} <= -1.5', 'kafka_lag{group!="x"}', "<=", -1.5),
        ("max_over_time(q[5m]) != 3", "max_over_time(q[5m])", "!=", 3.0),
    ],
)
def test_a_comparison_with_a_number_splits_into_series_and_threshold(
    expr: str, base: str, op: str, threshold: float
) -> None:
    assert split_threshold(expr) == Condition(base, op, threshold)


@pytest.mark.parametrize(
    "expr",
    ["a > 1 and b < 2", "a > b", 'absent(up{job="x"})', "up", "(a > 1)", "a > 1 unless on (x) b", "a > 1 > 2"],
)
def test_no_single_threshold_is_drawn_as_it_is(expr: str) -> None:
    assert split_threshold(expr) is None


STEP = 15.0


def test_still_firing_back_under_since_and_unknown_are_read_from_the_samples() -> None:
    cond = Condition("x", ">", 0.5)
    pts = [(t * STEP, v) for t, v in enumerate([0.1, 0.2, 0.9, 0.95, 0.8, 0.3, 0.2])]
    now = pts[-1][0] + 1
    under = state(pts, cond, now, STEP)
    assert under.kind == "under" and under.since == 5 * STEP and under.value == 0.2
    assert under.over_spans == [(2 * STEP, 4 * STEP + STEP / 2)]
    firing = state(pts[:5], cond, pts[4][0] + 1, STEP)
    assert firing.kind == "firing" and firing.since == 2 * STEP and firing.value == 0.8
    stale = state(pts, cond, now + 600, STEP)
    assert stale.kind == "unknown" and stale.since == pts[-1][0]  # old samples are not "now"
    nan = state([*pts[:4], (4 * STEP, math.nan)], cond, 4 * STEP + 1, STEP)
    assert nan.kind == "unknown"  # NaN is never "back under"
    never = state(pts[:2], cond, STEP + 1, STEP)
    assert never.kind == "under" and never.since == 0.0  # under for the whole window


def test_a_filtering_rule_is_judged_by_its_samples_stopping() -> None:
    pts = [(t * STEP, 1.0) for t in range(4)]
    assert state(pts, None, 3 * STEP + 1, STEP).kind == "firing"
    gone = state(pts, None, 3 * STEP + 600, STEP)
    assert gone.kind == "under" and gone.since == 3 * STEP + STEP / 2


def test_the_sentences_say_value_threshold_and_time_in_the_expression_unit() -> None:
    cond = Condition("histogram_quantile(0.95, sum by (le) (rate(d_seconds_bucket[1m])))", ">", 0.5)
    unit = unit_of(cond.base)
    pts = [(0.0, 0.1), (60.0, 0.9), (120.0, 0.2)]
    line = judged_line("HighResponseTime{service=a}", state(pts, cond, 121.0, 60.0), cond, unit, 121.0 + 300)
    assert line == (
        "HighResponseTime{service=a}: back under the threshold since 00:02 UTC (5 min): 200ms now, threshold > 500ms"
    )
    line = judged_line("X{}", state(pts[:2], cond, 61.0, 60.0), cond, unit, 61.0)
    assert line == "X{}: still firing: 900ms now, threshold > 500ms (over since 00:01 UTC)"


@pytest.mark.parametrize(
    ("expr", "unit", "value", "shown"),
    [
        ("histogram_quantile(0.95, sum by (le) (rate(x_seconds_bucket[5m])))", "s", 1.25, "1.25s"),
        ("container_memory_working_set_bytes", "B", 3 * 2**30, "3GiB"),
        ("sum(rate(http_requests_total[5m]))", "/s", 12.5, "12.5/s"),
        ('sum(rate(r_total{code=~"5.."}[5m])) / sum(rate(r_total[5m]))', "ratio", 0.031, "3.10%"),
        ("up", "", 1.0, "1"),
    ],
)
def test_units_follow_prometheus_naming(expr: str, unit: str, value: float, shown: str) -> None:
    assert unit_of(expr) == unit
    assert fmt_value(value, unit) == shown


def test_an_alert_is_judged_by_its_own_series_never_another_targets() -> None:
    from commands.backends.prometheus import Series
    from commands.graph.alert_graph import _conflicts, _matches

    alert = {"alertname": "RedisDown", "instance": "redis-0", "severity": "page"}
    assert _matches(Series({"instance": "redis-0"}, []), alert)
    assert not _matches(Series({"instance": "127.0.0.1:9090", "job": "platform"}, []), alert)
    assert _conflicts(Series({"instance": "127.0.0.1:9090", "job": "platform"}, []), alert)  # not its series
    assert not _conflicts(Series({}, []), alert)  # `sum(x) > 1`: the one series is the alert's


def test_nan_a_window_long_firing_and_large_thresholds_are_said_as_they_are() -> None:
    cond = Condition("x", ">", 1000.0)
    nan = state([(0.0, 2000.0), (15.0, math.nan)], cond, 16.0, 15.0)
    assert "latest sample is NaN" in judged_line("X{}", nan, cond, "/s", 16.0)
    always = state([(0.0, 2000.0), (15.0, 2500.0)], cond, 16.0, 15.0)
    line = judged_line("X{}", always, cond, "/s", 16.0, window_start=0.0)
    assert "over since at least 00:00 UTC, the window's start" in line and "threshold > 1,000/s" in line, line
    assert fmt_value(1234.5, "") == "1,234" and fmt_value(12.5, "") == "12.5"


@pytest.mark.parametrize(
    ("op", "values", "said"),
    [
        (">", [2.0, 0.5], "back under the threshold since"),
        ("<", [0.5, 2.0], "back over the threshold since"),
        ("==", [1.0, 0.0], "the condition no longer holds since"),
    ],
)
def test_recovery_is_worded_by_the_rules_direction(op: str, values: list[float], said: str) -> None:
    cond = Condition("x", op, 1.0)
    pts = [(0.0, values[0]), (15.0, values[1])]
    line = judged_line("X{}", state(pts, cond, 16.0, 15.0), cond, "", 16.0)
    assert said in line, line


def test_an_alert_never_over_in_the_window_is_not_back_under() -> None:
    cond = Condition("x", ">", 0.5)
    pts = [(600.0 + t * STEP, 0.1) for t in range(8)]
    st = state(pts, cond, pts[-1][0] + 1, STEP)
    line = judged_line("X{}", st, cond, "", pts[-1][0] + 1, window_start=pts[0][0], alert_status="firing")
    assert "back under" not in line, line
    assert "not over the threshold at any point since at least 00:10 UTC (the window's start)" in line, line
    assert "Alertmanager says firing while the expression does not hold" in line, line
