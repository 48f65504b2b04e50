"""A typed PromQL query's series are the answer: listed with their values under a neutral marker
(shown, not judged), never folded into "N check(s) OK" nor judged OK, in Slack and the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.render.report_blocks import render_report
from bot.render.report_text import render_text
from commands.backends.prometheus import Series
from commands.config import ChecksConfig
from commands.graph import series_finding
from commands.report import Report

END = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _report() -> Report:
    t = END.timestamp()
    findings = [
        series_finding(s, "q", "q", "?", False, "q", "w", 15, END, ChecksConfig(), s)
        for s in (Series({"service": f"svc-{i}"}, [(t, 10.0 * i + 0.5)]) for i in range(5))
    ]
    return Report(target="graph", started_at=END, duration_s=0.4, findings=findings)


def test_typed_series_are_listed_with_their_values_not_folded_nor_judged_ok() -> None:
    report = _report()
    slack = json.dumps(render_report(report).blocks)  # as any path renders it, --all or not
    text = render_text(report)
    for shown in (slack, text):
        assert "check(s) OK" not in shown and "/alp check graph" not in shown, shown
        for i in range(5):
            assert f"svc-{i}" in shown and f"{10 * i + 0.5:g}" in shown
    assert ":white_check_mark:" not in slack and "[ OK ]" not in text, text
    assert "not judged" in report.headline and "OK" not in report.headline.split(":")[1], report.headline


def test_the_fold_hint_names_a_command_that_exists() -> None:
    from commands.report import Finding, Severity

    ok = [Finding(severity=Severity.OK, title=f"auth-service figure {i}: fine", probe="prometheus") for i in range(3)]
    graph = json.dumps(render_report(Report(target="graph", started_at=END, duration_s=0.1, findings=ok)).blocks)
    assert "/alp check graph" not in graph and "check(s) OK" in graph, graph
    health = json.dumps(render_report(Report(target="health", started_at=END, duration_s=0.1, findings=ok)).blocks)
    assert "`/alp check health --all` lists them" in health
