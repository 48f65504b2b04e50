"""`latency` (High Response Times) and `memory` (Memory Leaks)."""

from __future__ import annotations

import json
from typing import Any

from commands.backends.kube import KubeError, KubeNotFound
from commands.checks.kube_probes import KubeHandle, log_grep_probe, log_metric_probe, restart, scaled_to_zero
from commands.checks.prom_figures import beside, memory_figure, p95_duration
from commands.kube.facts import container_roles, deployment_shortfall, parse_quantity, pod_state
from commands.probes import Probe, run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Finding, Severity, Suggestion, Table

GiB = 2**30


def metrics_missing(err: KubeError) -> Finding:
    """No metrics API: pod CPU and memory were not measured (UNKNOWN, never OK)."""
    if isinstance(err, KubeNotFound):
        return Finding(
            severity=Severity.UNKNOWN,
            title="metrics-server not installed: pod CPU and memory unknown",
            detail="metrics.k8s.io is not served, so pod CPU and memory are unknown (kubectl top needs metrics-server)",
        )
    return Finding(
        severity=Severity.UNKNOWN, title="Metrics API unavailable: pod CPU and memory unknown", detail=str(err)
    )


def no_metrics(namespace: str) -> Finding:
    return Finding(
        severity=Severity.UNKNOWN,
        title=f"No pod metrics in {namespace}, nothing to judge",
        detail="the metrics API answered with no pods (none running, or not yet scraped)",
    )


async def pod_usage(kh: KubeHandle, namespace: str) -> list[dict[str, Any]]:
    """Per container of each pod: CPU (cores) and memory (bytes) in use, and its own memory limit
    (bytes, None when unset). Judged per container: a sidecar at 96 % of its own limit is not
    35 % of the pod's summed limits (the kernel kills the container, not the pod)."""
    metrics = await kh.get().pod_metrics(namespace)
    pods = {p.metadata.name: p for p in await kh.get().list_pods(namespace)}
    out = []
    for m in metrics:
        name = m["metadata"]["name"]
        pod = pods.get(name)
        limits = {}
        roles = container_roles(pod) if pod is not None else {}
        if pod is not None:
            limits = {
                c.name: (c.resources.limits or {}).get("memory") if c.resources else None for c in pod.spec.containers
            }
        for c in m.get("containers", []):
            limit = limits.get(c["name"])
            out.append(
                {
                    "pod": name,
                    "container": c["name"],
                    "cpu": parse_quantity(c["usage"].get("cpu", "0")),
                    "memory": parse_quantity(c["usage"].get("memory", "0")),
                    "memory_limit": parse_quantity(limit) if limit else None,
                    "containers": len(m.get("containers", [])),
                    "app": (pod.metadata.labels or {}).get("app") if pod is not None else None,
                    "role": roles.get(c["name"], "container"),
                    "mesh": mesh_of(pod, c["name"]) if pod is not None else None,
                }
            )
    return sorted(out, key=lambda r: (-(r["memory"] / r["memory_limit"] if r["memory_limit"] else 0), -r["memory"]))


def mesh_of(pod: Any, container: str) -> str | None:
    """The service mesh that injected `container` into `pod`, from the pod's own evidence: Istio
    lists what it injected in the `sidecar.istio.io/status` annotation, Linkerd marks its proxy
    with `linkerd.io/proxy-version`. None: no mesh injected it (whatever its name says)."""
    notes = pod.metadata.annotations or {}
    status = notes.get("sidecar.istio.io/status")
    if status:
        try:
            if container in (json.loads(status).get("containers") or []):
                return "Istio"
        except (ValueError, AttributeError):
            pass
    if container == "linkerd-proxy" and "linkerd.io/proxy-version" in notes:
        return "Linkerd"
    return None


MESH_LIMIT = {
    "Istio": "the pod annotation sidecar.istio.io/proxyMemoryLimit (or the mesh's proxy defaults)",
    "Linkerd": "the annotation config.linkerd.io/proxy-memory-limit (or the mesh's proxy defaults)",
}


async def limit_remedy(kh: KubeHandle, namespace: str, r: dict[str, Any]) -> Suggestion | str:
    """The runbook's "raise the memory limit" for the container near its limit: the workload's own
    container (no name) in a one-container pod; a named container only where the deployment's
    template holds it. A container a mesh injected (its own annotation says so: `mesh_of`) is
    raised where that mesh sets it; one added otherwise is named as not in the template; when the
    template cannot be read, a sentence says so instead of guessing where the limit is set."""
    new_limit = f"{max(2 * r['memory_limit'], GiB) / GiB:.0f}Gi"
    params: dict[str, Any] = {"deployment": r["app"], "memory": new_limit}
    if r["containers"] > 1:
        who = f"{r['container']} ({r['role']})"
        try:
            dep = await kh.get().get_deployment(namespace, r["app"])
            names = {c.name for c in dep.spec.template.spec.containers}
        except KubeError as err:
            return f"{who}: deployment {r['app']}'s template could not be read ({err}), so where its limit is set is not known"
        if r["container"] not in names:
            if r["mesh"]:
                return f"{who} was injected by {r['mesh']}: raise its limit with {MESH_LIMIT[r['mesh']]}"
            return (
                f"{who} is not in deployment {r['app']}'s template (added when the pod was created, by an "
                "admission webhook): raise its limit where that webhook sets it"
            )
        params["container"] = r["container"]
    return Suggestion(action="set-resources", params=params, why="runbook: raise the memory limit temporarily")


def _usage_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [
            f"{r['pod']}/{r['container']}" + (f" ({r['role']})" if r["containers"] > 1 else ""),
            f"{r['cpu'] * 1000:.0f}m",
            f"{r['memory'] / 2**20:.0f}Mi",
            f"{r['memory_limit'] / 2**20:.0f}Mi" if r["memory_limit"] else "-",
            f"{r['memory'] / r['memory_limit']:.0%}" if r["memory_limit"] else "-",
        ]
        for r in rows
    ]


@check(
    "latency",
    summary="response_time per service from logs (and Prometheus' p95 where configured), pod CPU/memory, "
    "deployments short of replicas",
    runbook="Performance Issues — High Response Times",
    probes=lambda cfg: (*(f"{s.name} response_time" for s in cfg.platform.services), "top", "replicas"),
)
async def latency(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg, th = ctx.config, ctx.config.thresholds
    with KubeHandle(ctx) as kh:

        def remedies(name: str) -> Any:
            return lambda: [
                Suggestion(action="scale", params={"deployment": name, "replicas": 5}, why="runbook: scale out"),
                Suggestion(
                    action="set-resources",
                    params={"deployment": name, "cpu": "2", "memory": "4Gi"},
                    why="runbook: increase limits",
                ),
            ]

        async def top() -> list[Finding]:
            try:
                rows = await pod_usage(kh, cfg.namespace)
            except KubeError as err:
                return [metrics_missing(err)]
            if not rows:
                return [no_metrics(cfg.namespace)]
            return [
                Finding(
                    severity=Severity.OK,
                    title=f"Resource use of {len(rows)} pod(s)",
                    detail="metrics API (kubectl top): usage over its last scrape window",
                    evidence=[
                        Table(columns=["pod/container", "cpu", "memory", "limit", "of limit"], rows=_usage_rows(rows))
                    ],
                )
            ]

        async def replicas() -> list[Finding]:
            deployments = await kh.get().list_deployments(cfg.namespace)
            if not deployments:
                return [
                    Finding(
                        severity=Severity.UNKNOWN,
                        title=f"No deployments in {cfg.namespace}, nothing to judge",
                    )
                ]
            zero = [scaled_to_zero(d.metadata.name, cfg.namespace) for d in deployments if d.spec.replicas == 0]
            short = []
            for d in deployments:
                gap = deployment_shortfall(d)
                if gap:
                    short.append((d.metadata.name, *gap))
            # Missing replicas whose pods cannot be scheduled (no node fits): a restart makes
            # the same unschedulable pods again, so it is not offered; capacity is the cause.
            pending: dict[str, int] = {}
            if short:
                for p in await kh.get().list_pods(cfg.namespace):
                    st = pod_state(p, cfg.thresholds.restart_window_s)
                    app = (p.metadata.labels or {}).get("app")
                    if app and "Unschedulable" in st.reasons:
                        pending[app] = pending.get(app, 0) + 1
            if not short:
                if zero:
                    return zero
                return [
                    Finding(
                        severity=Severity.OK,
                        title=f"All {len(deployments)} deployment(s) have their desired replicas ready",
                    )
                ]
            return [
                *zero,
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"{len(short)} deployment(s) below desired replicas",
                    detail="; ".join(
                        f"{n}: {pending[n]} pod(s) Pending, Unschedulable (no node has room: add capacity "
                        "or lower requests; a restart would not help)"
                        for n, _, _ in short
                        if pending.get(n)
                    ),
                    evidence=[
                        Table(
                            columns=["deployment", "ready", "desired", "unschedulable"],
                            rows=[[n, str(r), str(d), str(pending.get(n, 0))] for n, r, d in short],
                        )
                    ],
                    suggestions=[restart(n, "pods are not becoming ready") for n, _, _ in short if not pending.get(n)],
                ),
            ]

        probes: dict[str, Probe] = {
            f"{s.name} response_time": beside(
                cfg,
                log_metric_probe(
                    kh, s.name, "response_time", th.response_time_warn_ms, th.response_time_crit_ms, remedies(s.name)
                ),
                p95_duration(cfg, s.name, "response_time", th.response_time_warn_ms, th.response_time_crit_ms),
            )
            for s in cfg.platform.services
        }
        probes |= {"top": top, "replicas": replicas}
        findings = await run_probes(ctx, probes)
    return CheckResult(findings)


@check(
    "memory",
    summary="pods by memory use vs limit, OOMKilled restarts, memory/leak/gc log lines",
    runbook="Performance Issues — Memory Leaks",
    probes=lambda cfg: ("usage", "oom", *(f"{s.name} logs" for s in cfg.platform.services)),
)
async def memory(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg, th = ctx.config, ctx.config.thresholds
    with KubeHandle(ctx) as kh:
        data: dict[str, Any] = {}

        async def usage() -> list[Finding]:
            try:
                rows = await pod_usage(kh, cfg.namespace)
            except KubeError as err:
                return [metrics_missing(err)]
            if not rows:
                return [no_metrics(cfg.namespace)]
            data["pods"] = rows
            high = [
                r for r in rows if r["memory_limit"] and r["memory"] / r["memory_limit"] >= th.memory_limit_warn_ratio
            ]
            suggestions: list[Suggestion] = []
            notes: list[str] = []
            for r in high:
                if r["app"] and not any(s.params.get("deployment") == r["app"] for s in suggestions):
                    suggestions.append(restart(r["app"], "runbook: restart to release leaked memory"))
                    raise_limit = await limit_remedy(kh, cfg.namespace, r)
                    if isinstance(raise_limit, Suggestion):
                        suggestions.append(raise_limit)
                    else:
                        notes.append(raise_limit)
            unlimited = [r for r in rows if not r["memory_limit"]]
            if len(unlimited) == len(rows):  # nothing to judge use against: not "within limits"
                return [
                    Finding(
                        severity=Severity.UNKNOWN,
                        title=f"{len(rows)} container(s) run with no memory limit: use not judged",
                        detail="the runbook judges memory against each container's limit; none is set (the node's "
                        "own memory is the only bound), so a leak shows only as the node's pressure",
                        evidence=[
                            Table(
                                columns=["pod/container", "cpu", "memory", "limit", "of limit"],
                                rows=_usage_rows(rows),
                            )
                        ],
                    )
                ]
            title = (
                f"{len(high)} container(s) above {th.memory_limit_warn_ratio:.0%} of their memory limit: "
                + ", ".join(
                    f"{r['pod']}/{r['container']}" + (f" ({r['role']})" if r["containers"] > 1 else "")
                    for r in high[:3]
                )
                if high
                else f"Memory of {len(rows) - len(unlimited)} container(s) within limits"
                + (f" ({len(unlimited)} more with no limit, not judged)" if unlimited else "")
            )
            return [
                Finding(
                    severity=Severity.WARNING if high else Severity.OK,
                    title=title,
                    detail="; ".join(notes),
                    evidence=[
                        Table(columns=["pod/container", "cpu", "memory", "limit", "of limit"], rows=_usage_rows(rows))
                    ],
                    suggestions=suggestions,
                )
            ]

        async def oom() -> list[Finding]:
            states = [pod_state(p, cfg.thresholds.restart_window_s) for p in await kh.get().list_pods(cfg.namespace)]
            if not states:
                return [
                    Finding(
                        severity=Severity.UNKNOWN,
                        title=f"No pods in {cfg.namespace}: OOMKilled restarts unknown",
                    )
                ]
            killed = [s for s in states if s.oom_killed]
            if not killed:
                return [Finding(severity=Severity.OK, title=f"No OOMKilled restarts among {len(states)} pod(s)")]
            which = [f"{s.name}/{c}" for s in killed for c in s.oom_containers]
            return [
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"{len(which)} container(s) restarted after OOMKilled: "
                    + ", ".join(which[:3])
                    + (f" (+{len(which) - 3} more)" if len(which) > 3 else ""),
                    detail="the kernel killed the container at its own memory limit (role in brackets: app, "
                    "sidecar, init)",
                    evidence=[
                        Table(
                            columns=["pod", "container (role)", "pod restarts"],
                            rows=[[s.name, c, str(s.restarts)] for s in killed for c in s.oom_containers],
                        )
                    ],
                )
            ]

        probes: dict[str, Probe] = {"usage": beside(cfg, usage, memory_figure(cfg)), "oom": oom}
        for s in cfg.platform.services:
            probes[f"{s.name} logs"] = log_grep_probe(
                kh, cfg.namespace, s.name, r"\b(memory|leak|gc|heap)\b", "memory/leak/gc line(s)"
            )
        findings = await run_probes(ctx, probes)
    return CheckResult(findings, data)
