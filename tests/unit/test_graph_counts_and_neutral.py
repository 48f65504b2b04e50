"""Units of counts and the neutral marker of a service's request rate (`alp graph`): a histogram's
`_bucket`/`_count` or a `_total` counter is a count, never seconds; no value is said as 1e+04; a
service's requests/s is shown, not judged: never `[ OK ]`, never among the OKs counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot.render.report_blocks import render_report
from bot.render.report_text import render_text
from commands.backends.prometheus import Series
from commands.config import ChecksConfig
from commands.graph import series_finding
from commands.graph.units import fmt_value, unit_of
from commands.report import Finding, Report

END = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expr", "unit"),
    [
        ("http_request_duration_seconds_bucket", ""),
        ('http_request_duration_seconds_bucket{le="+Inf"}', ""),
        ("sum(http_request_duration_seconds_count)", ""),
        ("process_cpu_seconds_total", ""),
        ("rate(http_request_duration_seconds_bucket[1m])", "/s"),
        ("rate(http_request_duration_seconds_count[5m])", "/s"),
        ("http_request_duration_seconds_sum / http_request_duration_seconds_count", "s"),
        ("histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m]))", "s"),
        ("node_time_seconds", "s"),
        ("increase(http_requests_total[5m])", ""),  # how many in 5 min: a count, not per second
        ("sum(increase(http_request_duration_seconds_count[1h]))", ""),
        ("irate(http_requests_total[1m])", "/s"),
    ],
)
def test_counts_are_numbers_not_seconds(expr: str, unit: str) -> None:
    assert unit_of(expr) == unit


@pytest.mark.parametrize("v", [68_600.0, 123_456_789.0, 1.5e12])
def test_no_unit_says_a_value_in_scientific_notation(v: float) -> None:
    for unit in ("s", "B", "/s", "", "ratio"):
        assert "e+" not in fmt_value(v, unit), (v, unit, fmt_value(v, unit))


def test_a_services_request_rate_is_shown_under_the_neutral_marker_not_counted_as_ok() -> None:
    t = END.timestamp()
    cfg = ChecksConfig()

    def one(what: str, unit: str, v: float) -> Finding:
        s = Series({}, [(t - 60, v), (t, v)])
        return series_finding(s, what, "expr", unit, True, "auth-service", "w", 15, END, cfg, s)

    rate = one("requests/s", "/s", 20.0)
    findings = [rate, one("error ratio", "ratio", 0.0), one("p95 duration", "s", 0.04)]
    report = Report(target="graph", started_at=END, duration_s=0.3, findings=findings)
    text = render_text(report)
    line = next(x for x in text.splitlines() if "requests/s" in x and "now" in x)
    assert not line.startswith("[ OK ]"), text
    assert "2 checks OK" in report.headline, report.headline  # the judged two, not three
    slack = json.dumps(render_report(report).blocks)
    assert "requests/s" in slack, slack  # the value is the answer: never folded away
