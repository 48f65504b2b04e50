"""Charts people can read: the y-axis in the expression's unit, the threshold drawn and named, time
labels that do not repeat on short windows, and range queries whose rate window fits the step."""

from __future__ import annotations

from typing import Any

import pytest
from matplotlib.colors import to_rgb

from commands.config import ChecksConfig
from commands.graph import red_queries
from commands.graph.alert_expr import Condition
from commands.graph.alert_graph import drawn_expr
from commands.graph.chart import figure

T0 = 1_796_000_000.0  # 2026-11-30


def _data(minutes: float, unit: str, threshold: float | None = None, n_series: int = 1) -> dict[str, Any]:
    step = minutes * 60 / 40
    return {
        "graph": {
            "title": "t",
            "window": "w",
            "start": T0,
            "end": T0 + minutes * 60,
            "panels": [
                {
                    "title": "p",
                    "unit": unit,
                    "expr": "x",
                    "threshold": threshold,
                    "series": [
                        {"labels": {"i": str(i)}, "points": [[T0 + k * step, 0.1 * (k % 7) + i] for k in range(41)]}
                        for i in range(n_series)
                    ],
                }
            ],
        }
    }


@pytest.mark.parametrize("minutes", [2, 5, 10, 60, 6 * 60, 24 * 60])
def test_time_labels_never_repeat(minutes: float) -> None:
    fig = figure(_data(minutes, "s"))
    assert fig is not None
    fig.canvas.draw()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert len(labels) >= 2 and len(labels) == len(set(labels)), labels


@pytest.mark.parametrize(
    ("unit", "label", "tick"),
    [("s", "seconds", "ms"), ("B", "bytes", "iB"), ("ratio", "ratio", "%"), ("/s", "per second", "/s")],
)
def test_the_y_axis_says_its_unit(unit: str, label: str, tick: str) -> None:
    scale = {"B": 2**20 * 100}.get(unit, 1)
    data = _data(30, unit)
    for s in data["graph"]["panels"][0]["series"]:
        s["points"] = [[t, v * scale] for t, v in s["points"]]
    fig = figure(data)
    assert fig is not None
    fig.canvas.draw()
    ax = fig.axes[0]
    assert label in ax.get_ylabel()
    assert any(tick in t.get_text() for t in ax.get_yticklabels()), [t.get_text() for t in ax.get_yticklabels()]


def test_the_threshold_is_a_line_of_its_own_colour_and_named() -> None:
    fig = figure(_data(60, "s", threshold=0.5, n_series=10))
    assert fig is not None
    ax = fig.axes[0]
    red = to_rgb("tab:red")
    flat = [ln for ln in ax.get_lines() if len(set(ln.get_ydata())) == 1 and ln.get_ydata()[0] == 0.5]
    assert flat and to_rgb(flat[0].get_color()) == red
    assert "500ms" in flat[0].get_label()
    series = [ln for ln in ax.get_lines() if ln not in flat]
    assert len(series) == 10 and all(to_rgb(ln.get_color()) != red for ln in series)  # no series mistaken for it


@pytest.mark.parametrize("since", [15 * 60, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600])
def test_red_rate_windows_fit_the_step(since: int) -> None:
    step = since / 240
    for _, expr, _ in red_queries(ChecksConfig(), "auth-service", step):
        window = int(expr.split("[", 1)[1].split("s]", 1)[0])
        assert window >= 60 and window >= step, (since, expr)


def test_a_long_window_draws_the_rules_extreme_in_each_step_not_a_sample() -> None:
    cond = Condition("histogram_quantile(0.95, rate(d_seconds_bucket[30s]))", ">", 0.5)
    assert drawn_expr(cond.base, cond, 15) == cond.base  # a sample every 15 s: the rule as it is
    long = drawn_expr(cond.base, cond, 360)
    assert long == f"max_over_time(({cond.base})[360s:])"  # no spike between two points is lost
    assert drawn_expr("q", Condition("q", "<", 1), 360) == "min_over_time((q)[360s:])"
    assert drawn_expr("q", None, 360) == "q"


@pytest.mark.parametrize(
    ("expr", "unit", "value", "shown"),
    [
        (
            "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
            "s",
            0.049,
            "49ms",
        ),
        ("sum(rate(resp_size_bytes_sum[5m])) / sum(rate(resp_size_bytes_count[5m]))", "B", 2048.0, "2KiB"),
        ("sum(rate(http_requests_total[5m]))", "/s", 1000.0, "1,000/s"),
    ],
)
def test_a_mean_of_a_summary_is_in_its_own_unit(expr: str, unit: str, value: float, shown: str) -> None:
    from commands.graph.units import fmt_value, unit_of

    assert unit_of(expr) == unit and fmt_value(value, unit) == shown


def test_thresholds_and_typed_values_are_never_in_e_notation() -> None:
    from datetime import UTC, datetime

    from commands.backends.prometheus import Series
    from commands.graph import series_finding

    assert Condition("x", ">", 1000.0).text() == "> 1,000" and Condition("x", ">", 0.25).text() == "> 0.25"
    end = datetime(2026, 12, 7, tzinfo=UTC)
    big = Series({}, [(end.timestamp(), 1234.0)])
    f = series_finding(big, "requests/s", "q", "/s", True, "ml-service", "w", 15, end, ChecksConfig(), big)
    assert "e+" not in f.title and "1,234/s" in f.title, f.title


def test_a_long_title_is_cut_with_an_ellipsis_and_the_window_apart() -> None:
    data = _data(60, "s")
    long = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="auth"}[1m])))'
    data["graph"]["title"], data["graph"]["window"] = long, "last 1h, a point every 15s"
    title = figure(data)._suptitle.get_text()
    first, _, second = title.partition("\n")
    assert first.endswith("…") and len(first) <= 81 and second == "last 1h, a point every 15s, UTC", title


def test_service_panels_carry_their_thresholds_and_ratios_never_go_below_zero() -> None:
    from commands.backends.prometheus import Series
    from commands.graph import red_panel

    cfg = ChecksConfig()
    flat = [Series({}, [(T0 + k * 15, 0.0) for k in range(40)])]
    p95 = red_panel("p95 duration", "q", "s", flat, cfg)
    assert p95["threshold"] == cfg.thresholds.response_time_warn_ms / 1000 and "warning" in p95["threshold_label"]
    errors = red_panel("error ratio", "q", "ratio", flat, cfg)
    assert errors["threshold"] == 0.01
    assert red_panel("requests/s", "q", "/s", flat, cfg).get("threshold") is None
    fig = figure({"graph": {"title": "t", "window": "w", "start": T0, "end": T0 + 600, "panels": [errors]}})
    ax = fig.axes[0]
    assert ax.get_ylim()[0] >= 0, ax.get_ylim()
    assert any("warning" in t.get_text() for t in ax.get_legend().get_texts())


def test_a_typed_querys_value_is_said_in_its_unit() -> None:
    from datetime import UTC, datetime

    from commands.backends.prometheus import Series
    from commands.graph import series_finding

    end = datetime(2026, 12, 7, tzinfo=UTC)
    s = Series({"service": "a"}, [(end.timestamp(), 0.204)])
    expr = "sum(rate(d_seconds_sum[5m])) / sum(rate(d_seconds_count[5m]))"
    f = series_finding(s, expr, expr, "?", False, expr, "w", 15, end, ChecksConfig(), s)
    assert "204ms now (shown, not judged)" in f.title, f.title
