"""`health`: the runbook's Health Check Commands and recovery checklist, all at once."""

from __future__ import annotations

from commands.checks.endpoint_probes import health_probe, kafka_topics_probe, postgres_probe, redis_ping_probe
from commands.checks.kube_probes import KubeHandle, pods_probe, warning_events_probe
from commands.config import ChecksConfig
from commands.probes import Probe, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check


def probe_names(cfg: ChecksConfig) -> tuple[str, ...]:
    """The health target's probes for this configuration, in the order `health_probes` starts them:
    every configured service's /health, then the infrastructure (`PlatformSettings.components()`)."""
    return ("pods", "events", *cfg.platform.components())


def health_probes(ctx: CheckContext, kh: KubeHandle) -> dict[str, Probe]:
    """The health target's probes, by name (also used by the benchmark to run them one by one)."""
    cfg = ctx.config
    probes: dict[str, Probe] = {
        "pods": pods_probe(kh, None, None, "Pods in all namespaces"),
        "events": warning_events_probe(kh, cfg.namespace),
    }
    probes |= {s.name: health_probe(cfg, s.name) for s in cfg.platform.services}
    probes |= {"postgres": postgres_probe(cfg), "redis": redis_ping_probe(cfg), "kafka": kafka_topics_probe(cfg)}
    return probes


@check(
    "health",
    summary="pods, service /health endpoints, PostgreSQL, Redis and Kafka at once",
    runbook="Health Check Commands",
    probes=probe_names,
)
async def health(ctx: CheckContext, params: NoParams) -> CheckResult:
    with KubeHandle(ctx) as kh:
        findings = await run_probes(ctx, health_probes(ctx, kh))
    return CheckResult(findings, {"components": {f.probe: f.severity.value for f in findings}})
