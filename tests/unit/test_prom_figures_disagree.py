"""The direct probe and Prometheus disagree only when both figures were read."""

from __future__ import annotations

from commands.checks.prom_figures import PromFigure, disagreement
from commands.report import Fields, Finding, Severity

FIG = PromFigure("user-service", "response_time", "histogram_quantile(…)", 600, 500, 2000)
PROM = Finding(severity=Severity.OK, title="user-service request duration (Prometheus): p95 49ms over the last 10 min")


def test_no_pods_or_a_replicas_finding_is_no_direct_figure_to_disagree_with() -> None:
    scaled = Finding(severity=Severity.CRITICAL, title="user-service is scaled to 0 replicas: nothing serves it")
    said = disagreement(FIG, [scaled], PROM)
    assert not any("disagree" in f.title for f in said), said
    assert said and "logs not read (user-service is scaled to 0 replicas" in said[0].title, said
    assert "Prometheus p95 49ms" in said[0].title
    assert said[0].severity is not Severity.WARNING


def test_two_figures_read_and_judged_differently_disagree() -> None:
    logs = Finding(
        severity=Severity.CRITICAL,
        title="user-service response_time: p95 2500ms (p50 900ms, max 3000ms)",
        evidence=[Fields(items={"samples": "40", "p95": "2500ms"})],
    )
    [said] = disagreement(FIG, [logs], PROM)
    assert "disagree" in said.title and said.severity is Severity.WARNING


def test_a_pod_prometheus_remembers_but_the_cluster_no_longer_has_is_said_gone() -> None:
    from commands.checks.prom_figures import MemoryFigure, memory_finding, present_containers
    from commands.report import Table

    fig = MemoryFigure("ns", "memory of the limit (metrics API, now)", "q", 600, 0.9)
    usage = Finding(
        severity=Severity.OK,
        title="Memory of 1 container(s) within limits",
        evidence=[
            Table(
                columns=["pod/container", "cpu", "memory", "limit", "of limit"],
                rows=[["web-2/app", "1m", "10Mi", "100Mi", "10%"]],
            )
        ],
    )
    rows = [("web-1/app", 0.97), ("web-2/app", 0.95)]
    f = memory_finding(fig, rows, present_containers([usage]))
    assert "web-1/app 97% (gone: no longer in the cluster)" in f.title, f.title
    assert "web-2/app 95%" in f.title and "web-2/app 95% (gone" not in f.title
    assert "gone" not in memory_finding(fig, rows, None).title  # the cluster not read: nothing said of it
