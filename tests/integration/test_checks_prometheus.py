"""Checks read Prometheus where it is configured (the bed's real one, scraping the platform stand-in):
each latency check says what Prometheus saw over a stated window beside what the logs showed, says
so when the two disagree (neither silently wins), and a Prometheus that is down or hangs makes its
line UNKNOWN, never OK."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from commands.config import LogSettings, PrometheusSettings
from commands.report import Report, Severity
from scripts.world.client import StandIns
from tests.support.checks_env import config_for, finding, run
from tests.support.k8s_world import make_pod

SLOW = "\n".join(
    f"2026-11-28T03:12:{i:02d}Z INFO [http] POST /auth/login 200 response_time={880 + i}ms" for i in range(30)
)
FAST = "\n".join(
    f"2026-11-28T03:12:{i:02d}Z INFO [http] POST /auth/login 200 response_time={100 + i}ms" for i in range(30)
)


@pytest.fixture
def standins(testbed) -> Iterator[StandIns]:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_PROMETHEUS__URL"):
        pytest.fail("no Prometheus in the test bed: run `scripts/testbed up`")
    s = StandIns.from_env(testbed)
    yield s
    s.reset_traffic()


def prom(testbed: dict[str, str], **over: Any) -> PrometheusSettings:
    given: dict[str, Any] = {
        "url": testbed["ALP_PROMETHEUS__URL"],
        "username": testbed["ALP_PROMETHEUS__USERNAME"],
        "password": testbed["ALP_PROMETHEUS__PASSWORD"],
    }
    return PrometheusSettings(**(given | over))


def titles(report: Report) -> list[tuple[str, str]]:
    return [(f.severity.value, f.title) for f in report.findings]


async def test_latency_from_histograms_agrees_with_the_stand_ins_and_a_disagreement_is_said(  # type: ignore[no-untyped-def]
    testbed, kube_admin, kubelet, platform, ns, standins
) -> None:
    make_pod(kube_admin, ns, "auth-service-1", "auth-service")
    kubelet.logs[(ns, "auth-service-1")] = SLOW
    standins.set_traffic("auth-service", rps=20, latency_ms=900)
    cfg = config_for(testbed, platform, ns, prometheus=prom(testbed), logs=LogSettings(since_s=60))
    deadline = time.monotonic() + 120
    while True:  # the histogram's last minute fills with 900 ms requests as Prometheus scrapes
        report = await run("auth-latency", cfg)
        line = finding(report, "auth-service request duration (Prometheus)")
        if "p95 9" in line.title or time.monotonic() > deadline:  # the whole minute at 900 ms
            break
        await asyncio.sleep(3)
    assert line.severity is Severity.WARNING, titles(report)  # 900 ms: over 500 ms warning, under 2 s critical
    p95 = int(line.title.split("p95 ")[1].split("ms")[0])
    assert 900 <= p95 <= 1000, line.title  # in the (0.5 s, 1 s] bucket the stand-in's 900 ms falls in
    assert "over the last 1 min" in line.title and "histogram_quantile" in str(line.evidence)
    logs = finding(report, "auth-service response_time: p95")
    assert logs.severity is Severity.WARNING
    assert not [f for f in report.findings if "disagree" in f.title], titles(report)

    kubelet.logs[(ns, "auth-service-1")] = FAST  # the logs say fast, Prometheus still counts 900 ms
    report = await run("auth-latency", cfg)
    said = finding(report, "disagree")
    assert said.severity is Severity.WARNING
    assert "response_time OK, Prometheus WARNING" in said.title, said.title
    assert "p95 1" in said.detail and "(Prometheus): p95 9" in said.detail  # both figures named
    assert report.severity is not Severity.OK  # neither silently wins


async def test_prometheus_down_or_hanging_is_unknown_never_ok(testbed, kube_admin, kubelet, platform, ns) -> None:  # type: ignore[no-untyped-def]
    make_pod(kube_admin, ns, "auth-service-1", "auth-service")
    kubelet.logs[(ns, "auth-service-1")] = FAST
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cfg = config_for(testbed, platform, ns, prometheus=prom(testbed, url=f"http://127.0.0.1:{closed}"))
    report = await run("auth-latency", cfg)
    down = finding(report, "auth-service request duration from Prometheus unknown")
    assert down.severity is Severity.UNKNOWN and "unreachable" in down.title
    assert finding(report, "auth-service response_time: p95").severity is Severity.OK  # the logs still read
    assert report.severity is not Severity.OK

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        cfg = config_for(
            testbed, platform, ns, prometheus=prom(testbed, url=f"http://127.0.0.1:{listener.getsockname()[1]}")
        )
        t0 = time.monotonic()
        report = await run("auth-latency", cfg)
        assert time.monotonic() - t0 < cfg.timeouts.probe_s * 2 + cfg.thresholds.rate_window_s + 5
        hung = finding(report, "auth-service request duration from Prometheus unknown")
        assert hung.severity is Severity.UNKNOWN and "no answer within 3s" in hung.title, titles(report)
        assert finding(report, "auth-service response_time: p95").severity is Severity.OK
    finally:
        listener.close()

    report = await run("auth-latency", config_for(testbed, platform, ns))  # not configured: no line at all
    assert not [f for f in report.findings if "Prometheus" in f.title], titles(report)


@pytest.mark.parametrize(
    ("target", "service"),
    [("latency", "user-service"), ("scheduler", "scheduler-service"), ("predictions", "ml-service")],
)
async def test_each_latency_check_names_prometheus_and_its_window(  # type: ignore[no-untyped-def]
    testbed, kube_admin, kubelet, platform, ns, standins, target, service
) -> None:
    make_pod(kube_admin, ns, f"{service}-1", service)
    cfg = config_for(testbed, platform, ns, prometheus=prom(testbed), logs=LogSettings(since_s=120))
    report = await run(target, cfg)
    line = finding(report, f"{service} request duration (Prometheus)")
    assert line.severity is Severity.OK and "over the last 2 min" in line.title, titles(report)  # 40 ms default


async def test_memory_from_prometheus_beside_the_metrics_api_and_a_disagreement_is_said(  # type: ignore[no-untyped-def]
    testbed, kube_admin, platform, ns, metrics_api, standins
) -> None:
    kubelet = metrics_api
    make_pod(kube_admin, ns, "auth-service-1", "auth-service", memory_limit="1Gi")
    kubelet.set_pod_metrics(ns, "auth-service-1", cpu="300m", memory="980Mi")  # the metrics API: 96 % now
    standins.set_container_memory(ns, "auth-service-1", "app", used=980 * 2**20, limit=2**30)
    cfg = config_for(testbed, platform, ns, prometheus=prom(testbed), logs=LogSettings(since_s=120))
    try:
        deadline = time.monotonic() + 60
        while True:  # until Prometheus has scraped it
            report = await run("memory", cfg)
            line = finding(report, "Memory")
            if "Prometheus, peak" in line.title or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        line = finding(report, "Memory (Prometheus, peak over the last 2 min)")
        assert line.severity is Severity.WARNING and "auth-service-1/app 96%" in line.title, titles(report)
        assert not [f for f in report.findings if "disagree" in f.title], titles(report)

        # Prometheus' minute now holds only 300 MiB while the metrics API still says 980 MiB: said, both named
        standins.set_container_memory(ns, "auth-service-1", "app", used=300 * 2**20, limit=2**30)
        cfg = config_for(testbed, platform, ns, prometheus=prom(testbed), logs=LogSettings(since_s=60))
        deadline = time.monotonic() + 120
        while True:  # the 980 MiB peak leaves Prometheus' 1-minute window
            report = await run("memory", cfg)
            said = [f for f in report.findings if "disagree" in f.title]
            if said or time.monotonic() > deadline:
                break
            await asyncio.sleep(3)
        assert said, titles(report)
        assert said[0].severity is Severity.WARNING and "Prometheus OK" in said[0].title, said[0].title
        assert "within limits" in said[0].detail and "above 90%" in said[0].detail
    finally:
        standins.clear_container_memory()
