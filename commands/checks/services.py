"""User, scheduler and ML service targets: `progress`, `scheduler`, `algorithm`, `ml`, `predictions`."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from pydantic import Field

from commands.backends import net, redis
from commands.checks.endpoint_probes import host_port, redis_ping_probe, tcp_probe
from commands.checks.kafka_lag import KafkaLagParams, kafka_lag
from commands.checks.kube_probes import KubeHandle, log_grep_probe, log_metric_probe, pods_probe, restart
from commands.checks.prom_figures import beside, p95_duration
from commands.kube.facts import parse_quantity
from commands.probes import Probe, availability, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Code, Fields, Finding, Severity, Suggestion, Table


def _kafka_host_port(bootstrap: str) -> tuple[str, int]:
    first = bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host or first, int(port or 9092)


@check(
    "progress",
    summary="user-service pods and progress logs, Kafka and Redis reachability, user-service lag",
    runbook="User Service Issues — Progress Not Updating",
    probes=("pods", "logs", "kafka-tcp", "redis", "lag"),
)
async def progress(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    with KubeHandle(ctx) as kh:
        host, port = _kafka_host_port(cfg.kafka_bootstrap)

        async def lag() -> list[Finding]:
            group = next((g for g, d in cfg.platform.consumer_groups.items() if d == "user-service"), "user-service")
            # the shared history if the bot samples, else the configured samples: nobody asked for --samples
            result = await kafka_lag(ctx, KafkaLagParams(group=group, interval=min(cfg.kafka_lag.interval_s, 1.0)))
            return [f for f in result.findings if f.probe == "groups" or "unreachable" in f.title]

        restart_user = lambda: [restart("user-service", "runbook: restart user service")]  # noqa: E731
        findings = await run_probes(
            ctx,
            {  # the cause before the symptom: a crashing pod, then its errors, then the lag they cause
                "pods": pods_probe(kh, cfg.namespace, "app=user-service", "user-service", restart_user),
                "logs": log_grep_probe(
                    kh,
                    cfg.namespace,
                    "user-service",
                    r"progress.*(error|fail|timeout)|"
                    r"(error|fail|timeout).*progress",
                    "failing progress update(s)",
                    suggest=lambda _: [restart("user-service", "runbook: restart user service")],
                ),
                "kafka-tcp": tcp_probe(host, port, "Kafka", cfg.timeouts.probe_s, backend="Kafka"),
                "redis": redis_ping_probe(cfg),
                "lag": lag,
            },
            timeout_s=cfg.timeouts.probe_s * 2 + 3,
        )
    return CheckResult(findings)


def redis_latency_probe(ctx: CheckContext) -> Probe:
    """`redis-cli --latency`: time N PINGs, judged on their median (a robust statistic: on a busy
    host a few PINGs wait for the bot's own CPU, which says nothing about Redis; the mean follows
    them, the median does not). min/mean/max are shown beside it."""
    cfg = ctx.config

    async def probe() -> list[Finding]:
        times = []
        async with redis.connect(cfg.redis_url, cfg.timeouts.probe_s) as client:
            for _ in range(cfg.redis.latency_samples):
                t0 = time.perf_counter()
                await client.ping()
                times.append((time.perf_counter() - t0) * 1000)
            who = redis.where(client)
        median, avg, worst = statistics.median(times), statistics.fmean(times), max(times)
        warn = cfg.thresholds.redis_latency_warn_ms
        severity = Severity.WARNING if median >= warn else Severity.OK
        return [
            Finding(
                severity=severity,
                title=f"{who} latency: median {median:.2f}ms of {len(times)} PINGs (max {worst:.2f}ms)",
                detail=f"judged on the median; warning from {warn:g}ms",
                evidence=[
                    Fields(
                        items={
                            "samples": str(len(times)),
                            "min": f"{min(times):.2f}ms",
                            "median": f"{median:.2f}ms",
                            "mean": f"{avg:.2f}ms",
                            "max": f"{worst:.2f}ms",
                        }
                    )
                ],
            )
        ]

    return probe


@check(
    "scheduler",
    summary="scheduler selection_time, Redis latency, reachability of ml-service",
    runbook="Scheduler Service Issues — Slow Item Selection",
    probes=("pods", "selection-time", "redis-latency", "ml-service"),
)
async def scheduler(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg, th = ctx.config, ctx.config.thresholds
    with KubeHandle(ctx) as kh:
        host, port = host_port(cfg, "ml-service")

        def remedies() -> list[Suggestion]:
            return [
                Suggestion(
                    action="scale",
                    params={"deployment": "scheduler-service", "replicas": 3},
                    why="runbook: scale the scheduler",
                ),
                Suggestion(action="warm-cache", params={"service": "scheduler-service"}, why="warm Redis"),
                Suggestion(
                    action="set-config",
                    params={"configmap": "scheduler-config", "fallback_enabled": "true"},
                    why="fallback algorithm while ml-service is slow",
                ),
            ]

        findings = await run_probes(
            ctx,
            {  # the cause first: a pod not ready, then the latency it causes
                "pods": pods_probe(
                    kh,
                    cfg.namespace,
                    "app=scheduler-service",
                    "scheduler-service",
                    lambda: [restart("scheduler-service", "a pod not ready: restart it")],
                ),
                "selection-time": beside(
                    cfg,
                    log_metric_probe(
                        kh,
                        "scheduler-service",
                        "selection_time",
                        th.selection_time_warn_ms,
                        th.selection_time_crit_ms,
                        remedies,
                    ),
                    p95_duration(
                        cfg, "scheduler-service", "selection_time", th.selection_time_warn_ms, th.selection_time_crit_ms
                    ),
                ),
                "redis-latency": redis_latency_probe(ctx),
                "ml-service": tcp_probe(host, port, "ml-service", cfg.timeouts.probe_s, lambda: remedies()[2:]),
            },
        )
    if any(f.probe == "ml-service" and f.severity is Severity.OK for f in findings):  # ml-service answers:
        for f in findings:  # its fallback is no remedy here
            f.suggestions = [s for s in f.suggestions if s.params.get("configmap") != "scheduler-config"]
    return CheckResult(findings)


class AlgorithmParams(NoParams):
    user: str | None = Field(None, description="show the Redis key scheduler:<USER>", pattern=r"^[\w.:-]{1,128}$")


async def redis_key(ctx: CheckContext, key: str) -> Finding:
    """A key shown according to its type (string, hash, list, set, zset), bounded."""
    async with redis.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as client:
        kind = str(await client.type(key))  # decode_responses: str, not bytes
        value: Any
        if kind == "none":
            return Finding(
                severity=Severity.WARNING,
                title=f"Redis key {key} does not exist",
                detail="the user has no scheduler state (never scheduled, or evicted)",
            )
        if kind == "string":
            value = await client.get(key)
            try:
                value = json.dumps(json.loads(value), indent=1)[:2500]
            except (ValueError, TypeError):
                value = str(value)[:2500]
        elif kind == "hash":
            value = "\n".join(f"{k!s} = {v!s}" for k, v in list((await client.hgetall(key)).items())[:50])
        elif kind == "list":
            value = "\n".join(str(x) for x in await client.lrange(key, 0, 49))
        elif kind == "set":
            value = "\n".join(sorted(str(x) for x in await client.srandmember(key, 50) or []))
        elif kind == "zset":
            value = "\n".join(f"{pair[0]!s} {pair[1]!s}" for pair in await client.zrange(key, 0, 49, withscores=True))
        else:
            value = f"(type {kind})"
        ttl = await client.ttl(key)
    return Finding(
        severity=Severity.OK,
        title=f"Redis key {key}: {kind}",
        evidence=[
            Fields(items={"type": kind, "ttl": "none" if ttl < 0 else f"{ttl}s"}),
            Code(text=value),
        ],
    )


@check(
    "algorithm",
    summary="algorithm/SM2/BKT/IRT errors in scheduler logs; --user shows its Redis state",
    runbook="Scheduler Service Issues — Algorithm Errors",
    params=AlgorithmParams,
    probes=("logs", "user-state"),
)
async def algorithm(ctx: CheckContext, params: AlgorithmParams) -> CheckResult:
    cfg = ctx.config
    with KubeHandle(ctx) as kh:

        def remedies(_: list[str]) -> list[Suggestion]:
            out = [
                Suggestion(
                    action="rollback",
                    params={"deployment": "scheduler-service", "env": "ALGORITHM_VERSION", "value": "v1.0.0"},
                    why="runbook: previous algorithm",
                )
            ]
            if params.user:
                out.insert(
                    0,
                    Suggestion(
                        action="reset-user-state", params={"user": params.user}, why="if the user's state is corrupted"
                    ),
                )
            return out

        probes: dict[str, Probe] = {
            "logs": log_grep_probe(
                kh,
                cfg.namespace,
                "scheduler-service",
                r"\b(algorithm|sm2|bkt|irt)\b",
                "algorithm line(s)",
                suggest=remedies,
            ),
        }
        if params.user:
            user = params.user

            async def state() -> list[Finding]:
                found = await redis_key(ctx, f"scheduler:{user}")
                return [found.model_copy(update={"asked": True})]

            probes["user-state"] = state
        findings = await run_probes(ctx, probes)
    return CheckResult(findings)


def gpu_probe(kh: KubeHandle) -> Probe:
    """`kubectl describe nodes | grep nvidia.com/gpu`: capacity and allocatable per node."""

    async def probe() -> list[Finding]:
        nodes = await kh.get().list_nodes()
        if not nodes:
            return [Finding(severity=Severity.UNKNOWN, title="No nodes listed: GPU capacity unknown")]
        rows = []
        for n in nodes:
            cap = (n.status.capacity or {}).get("nvidia.com/gpu") if n.status else None
            alloc = (n.status.allocatable or {}).get("nvidia.com/gpu") if n.status else None
            if cap is not None:
                rows.append([n.metadata.name, cap, alloc or "0"])
        if not rows:
            return [
                Finding(
                    severity=Severity.WARNING,
                    title=f"No node offers nvidia.com/gpu ({len(nodes)} node(s))",
                    detail="GPU models cannot load without GPU nodes",
                )
            ]
        free = sum(parse_quantity(r[2]) for r in rows)
        return [
            Finding(
                severity=Severity.OK if free > 0 else Severity.WARNING,
                title=f"GPUs: {sum(parse_quantity(r[1]) for r in rows):.0f} capacity, {free:.0f} allocatable",
                evidence=[Table(columns=["node", "capacity", "allocatable"], rows=rows)],
            )
        ]

    return probe


@check(
    "ml",
    summary="ml-service model loading logs, MLflow /health, GPU capacity of the nodes",
    runbook="ML Service Issues — Model Loading Failures",
    probes=("logs", "mlflow", "gpus"),
)
async def ml(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    with KubeHandle(ctx) as kh:

        def remedies(_: list[str]) -> list[Suggestion]:
            return [
                restart("ml-service", "runbook: restart ML service"),
                Suggestion(
                    action="rollback",
                    params={"deployment": "ml-service", "env": "MODEL_VERSION", "value": "v1.2.0"},
                    why="runbook: previous model",
                ),
                Suggestion(
                    action="scale", params={"deployment": "ml-service", "replicas": 3}, why="if resource constrained"
                ),
            ]

        async def mlflow() -> list[Finding]:
            url = cfg.endpoints.mlflow_url.rstrip("/") + "/health"
            res = await net.http_get(url, cfg.timeouts.probe_s)
            if res.ok:
                return [Finding(severity=Severity.OK, title=f"MLflow /health: {res.status} in {res.ms:.0f}ms")]
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title="MLflow unreachable",
                    detail=f"{url}: {res.error or f'HTTP {res.status}'}",
                )
            ]

        findings = await run_probes(
            ctx,
            {
                "logs": log_grep_probe(
                    kh,
                    cfg.namespace,
                    "ml-service",
                    r"(model|loading).*(error|fail|exception|cannot|unable)|"
                    r"(error|fail|exception|cannot|unable).*(model|loading)",
                    "model loading failure(s)",
                    Severity.CRITICAL,
                    remedies,
                ),
                "mlflow": availability(mlflow),
                "gpus": gpu_probe(kh),
            },
        )
    return CheckResult(findings)


@check(
    "predictions",
    summary="ml-service prediction_time percentiles against the prediction timeout",
    runbook="ML Service Issues — Prediction Timeouts",
    probes=("prediction-time",),
)
async def predictions(ctx: CheckContext, params: NoParams) -> CheckResult:
    th = ctx.config.thresholds
    with KubeHandle(ctx) as kh:

        def remedies() -> list[Suggestion]:
            return [
                Suggestion(
                    action="set-config",
                    params={"configmap": "ml-service-config", "cache_predictions": "true"},
                    why="runbook: cache predictions",
                ),
                Suggestion(
                    action="rollback",
                    params={"deployment": "ml-service", "env": "MODEL_VARIANT", "value": "small"},
                    why="runbook: smaller model variant",
                ),
                Suggestion(
                    action="set-config",
                    params={"configmap": "ml-service-config", "prediction_timeout": "10s"},
                    why="runbook: increase the timeout",
                ),
            ]

        findings = await run_probes(
            ctx,
            {
                "prediction-time": beside(
                    ctx.config,
                    log_metric_probe(
                        kh,
                        "ml-service",
                        "prediction_time",
                        th.prediction_timeout_ms * 0.8,
                        th.prediction_timeout_ms,
                        remedies,
                    ),
                    p95_duration(
                        ctx.config,
                        "ml-service",
                        "prediction_time",
                        th.prediction_timeout_ms * 0.8,
                        th.prediction_timeout_ms,
                    ),
                ),
            },
        )
    return CheckResult(findings)
