"""Helpers for check tests: a config pointing at the test bed and the fakes, and a runner."""

from __future__ import annotations

from typing import Any

import commands.checks  # noqa: F401  (registers the targets)
from commands import catalogue
from commands.config import (
    ChecksConfig,
    EndpointSettings,
    KafkaLagSettings,
    PlatformSettings,
    ServiceSpec,
    TimeoutSettings,
)
from commands.registry import CheckContext
from commands.report import Finding, Report
from commands.runner import run_check
from tests.support.k8s_world import SERVICES

CLOSED = "127.0.0.1:1"  # nothing listens on port 1: connections are refused at once


def config_for(testbed: dict[str, str], platform: Any, namespace: str, **over: Any) -> ChecksConfig:
    services = [ServiceSpec(name=n, port=p, url=f"{platform.base}/svc/{n}") for n, p in SERVICES.items()]
    base: dict[str, Any] = {
        "postgres_dsn": testbed["ALP_POSTGRES_DSN"],
        "redis_url": testbed["ALP_REDIS_URL"],
        "kafka_bootstrap": testbed["ALP_KAFKA_BOOTSTRAP"],
        "namespace": namespace,
        "platform": PlatformSettings(services=services, infra_namespace=namespace),
        "endpoints": EndpointSettings(oauth_url=f"{platform.base}/oauth", mlflow_url=f"{platform.base}/mlflow"),
        "timeouts": TimeoutSettings(probe_s=3, check_s=30),
        "kafka_lag": KafkaLagSettings(samples=2, interval_s=0.2),
    }
    base.update(over)
    return ChecksConfig(**base)


async def run(target: str, cfg: ChecksConfig, progress: Any = None, **params: Any) -> Report:
    spec = catalogue.current().checks.get(target)  # runbook files' symptoms too
    assert spec is not None, target
    return await run_check(spec, CheckContext(cfg, progress), spec.params.model_validate(params))


def finding(report: Report, text: str) -> Finding:
    """The one finding whose title contains `text`."""
    found = [f for f in report.findings if text in f.title]
    assert found, f"no finding with {text!r}: {[f.title for f in report.findings]}"
    return found[0]


def actions(f: Finding) -> set[str]:
    return {s.action for s in f.suggestions}
