"""Kubernetes remediations of workloads and their config: restart, scale, set-config, rollback,
set-resources, delete-pod. Every preview is a server-side dry run of the same call.

Who gets in (rotate-jwt-key, block-ips, rate-limit) is in `commands.actions.access_actions`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from commands.actions.registry import ActionContext, ActionParams, Outcome, Preview, Risk, action
from commands.actions.validators import Name, Quantity
from commands.backends.kube import RESTARTED_AT, Kube
from commands.kube.facts import parse_quantity


@asynccontextmanager
async def kube(ctx: ActionContext) -> AsyncIterator[Kube]:
    k = Kube(ctx.config.timeouts.probe_s * 2)
    try:
        yield k
    finally:
        k.close()


def _container(dep: Any, name: str | None) -> Any:
    containers = dep.spec.template.spec.containers
    for c in containers:
        if c.name == (name or dep.metadata.name):
            return c
    if name is None and len(containers) == 1:
        return containers[0]
    raise ValueError(
        f"no container {name or dep.metadata.name} in {dep.metadata.name}: {', '.join(c.name for c in containers)}"
    )


# ---------------------------------------------------------------------- restart
class RestartParams(ActionParams):
    deployment: Name
    namespace: Name | None = Field(None, description="default: the platform namespace")


async def preview_restart(ctx: ActionContext, p: RestartParams) -> Preview:
    ns = p.namespace or ctx.namespace
    async with kube(ctx) as k:
        dep = await k.get_deployment(ns, p.deployment)
        dry = await k.restart_deployment(ns, p.deployment, dry_run=True)
    before = (dep.spec.template.metadata.annotations or {}).get(RESTARTED_AT)
    after = (dry.spec.template.metadata.annotations or {}).get(RESTARTED_AT)
    return Preview(
        [
            f"rollout restart deployment/{p.deployment} in {ns}: its {dep.spec.replicas or 0} pod(s) "
            "are replaced one by one"
        ],
        {RESTARTED_AT: before},
        {RESTARTED_AT: after},
        target=f"deployment/{ns}/{p.deployment}",
    )


@action(
    "restart",
    summary="rollout restart a deployment",
    runbook="kubectl rollout restart deployment/X",
    risk=Risk.DISRUPTIVE,
    params=RestartParams,
    preview=preview_restart,
    positional=("deployment",),
    verify="health",
)
async def restart(ctx: ActionContext, p: RestartParams, preview: Preview) -> Outcome:
    ns = p.namespace or ctx.namespace
    async with kube(ctx) as k:
        dep = await k.restart_deployment(ns, p.deployment)
    stamp = (dep.spec.template.metadata.annotations or {}).get(RESTARTED_AT)
    return Outcome(True, f"restarted deployment/{p.deployment} in {ns}", preview.before, {RESTARTED_AT: stamp})


# ---------------------------------------------------------------------- scale
class ScaleParams(ActionParams):
    deployment: Name
    replicas: int = Field(ge=0, le=1000)
    namespace: Name | None = None


async def preview_scale(ctx: ActionContext, p: ScaleParams) -> Preview:
    ns, bounds = p.namespace or ctx.namespace, ctx.config.actions
    async with kube(ctx) as k:
        current = (await k.get_scale(ns, p.deployment)).spec.replicas or 0
        refusal = None
        if not bounds.min_replicas <= p.replicas <= bounds.max_replicas:
            refusal = f"{p.replicas} replicas is outside the allowed {bounds.min_replicas}..{bounds.max_replicas}"
        else:
            await k.scale_deployment(ns, p.deployment, p.replicas, dry_run=True)
    return Preview(
        [f"scale deployment/{p.deployment} in {ns}: {current} -> {p.replicas} replicas"],
        {"replicas": current},
        {"replicas": p.replicas},
        refusal=refusal,
        target=f"deployment/{ns}/{p.deployment}",
    )


@action(
    "scale",
    summary="scale a deployment within the configured bounds",
    runbook="kubectl scale deployment X --replicas=N",
    risk=Risk.DISRUPTIVE,
    params=ScaleParams,
    preview=preview_scale,
    positional=("deployment", "replicas"),
    verify="health",
)
async def scale(ctx: ActionContext, p: ScaleParams, preview: Preview) -> Outcome:
    ns = p.namespace or ctx.namespace
    async with kube(ctx) as k:
        res = await k.scale_deployment(ns, p.deployment, p.replicas)
    before = preview.before["replicas"]
    return Outcome(
        True,
        f"scaled deployment/{p.deployment}: {before} -> {res.spec.replicas} replicas",
        preview.before,
        {"replicas": res.spec.replicas},
        undo=("scale", {"deployment": p.deployment, "replicas": before, "namespace": ns}),
    )


# ---------------------------------------------------------------------- set-config
class SetConfigParams(ActionParams):
    configmap: Name
    values: dict[str, str | None] = Field(description="key=value pairs; an empty value removes the key")

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        """`set-config auth-config fallback_enabled=true` arrives as flat keys: gather them."""
        if isinstance(data, dict) and "values" not in data:
            values = {k: v for k, v in data.items() if k != "configmap"}
            return {"configmap": data.get("configmap"), "values": values}
        return data

    @model_validator(mode="after")
    def _some(self) -> SetConfigParams:
        if not self.values:
            raise ValueError("give at least one key=value")
        return self


async def preview_set_config(ctx: ActionContext, p: SetConfigParams) -> Preview:
    allowed = ctx.config.actions.configmaps
    target = f"configmap/{ctx.namespace}/{p.configmap}"
    if p.configmap not in allowed:
        return Preview(
            [],
            refusal=f"configmap {p.configmap} is not one set-config may change (allowed: {', '.join(allowed)})",
            target=target,
        )
    bad = [k for k in p.values if k not in allowed[p.configmap]]
    if bad:
        return Preview(
            [],
            refusal=f"{p.configmap}: key(s) {', '.join(bad)} not allowed (allowed: {', '.join(allowed[p.configmap])})",
            target=target,
        )
    async with kube(ctx) as k:
        current = (await k.get_configmap(ctx.namespace, p.configmap)).data or {}
        await k.patch_configmap(ctx.namespace, p.configmap, dict(p.values), dry_run=True)
    before = {key: current.get(key) for key in p.values}
    lines = [f"configmap {p.configmap}: {key}: {before[key]!r} -> {value!r}" for key, value in p.values.items()]
    return Preview(lines, before, dict(p.values), target=target)


@action(
    "set-config",
    summary="patch allowed keys of an allowed configmap",
    runbook="kubectl patch configmap X --patch '{\"data\":{…}}'",
    risk=Risk.SAFE,
    params=SetConfigParams,
    preview=preview_set_config,
    positional=("configmap",),
    verify="health",
)
async def set_config(ctx: ActionContext, p: SetConfigParams, preview: Preview) -> Outcome:
    async with kube(ctx) as k:
        cm = await k.patch_configmap(ctx.namespace, p.configmap, dict(p.values))
    after = {key: (cm.data or {}).get(key) for key in p.values}
    return Outcome(
        True,
        f"patched configmap {p.configmap}: " + ", ".join(f"{k}={v}" for k, v in after.items()),
        preview.before,
        after,
        undo=("set-config", {"configmap": p.configmap, **preview.before}),
    )


# ---------------------------------------------------------------------- rollback
class RollbackParams(ActionParams):
    deployment: Name
    env: str
    value: str = Field(min_length=1, max_length=200)
    container: Name | None = None


async def preview_rollback(ctx: ActionContext, p: RollbackParams) -> Preview:
    target = f"deployment/{ctx.namespace}/{p.deployment}"
    if p.env not in ctx.config.actions.rollback_env:
        return Preview(
            [],
            refusal=f"{p.env} is not a version variable rollback may set "
            f"(allowed: {', '.join(ctx.config.actions.rollback_env)})",
            target=target,
        )
    async with kube(ctx) as k:
        dep = await k.get_deployment(ctx.namespace, p.deployment)
        c = _container(dep, p.container)
        current = next((e.value for e in (c.env or []) if e.name == p.env), None)
        await k.patch_container(
            ctx.namespace, p.deployment, c.name, {"env": [{"name": p.env, "value": p.value}]}, dry_run=True
        )
    return Preview(
        [f"deployment/{p.deployment} container {c.name}: {p.env} {current!r} -> {p.value!r} (pods restart with it)"],
        {p.env: current},
        {p.env: p.value},
        target=target,
    )


@action(
    "rollback",
    summary="set ALGORITHM_VERSION / MODEL_VERSION / MODEL_VARIANT of one container",
    runbook="kubectl patch deployment X -p '{…env…}'",
    risk=Risk.DISRUPTIVE,
    params=RollbackParams,
    preview=preview_rollback,
    positional=("deployment", "env", "value"),
    verify="health",
)
async def rollback(ctx: ActionContext, p: RollbackParams, preview: Preview) -> Outcome:
    async with kube(ctx) as k:
        dep = await k.get_deployment(ctx.namespace, p.deployment)
        c = _container(dep, p.container)
        await k.patch_container(ctx.namespace, p.deployment, c.name, {"env": [{"name": p.env, "value": p.value}]})
    old = preview.before.get(p.env)
    return Outcome(
        True,
        f"{p.deployment}: {p.env} {old} -> {p.value}",
        preview.before,
        {p.env: p.value},
        undo=("rollback", {"deployment": p.deployment, "env": p.env, "value": old}) if old else None,
    )


# ---------------------------------------------------------------------- set-resources
class SetResourcesParams(ActionParams):
    deployment: Name | None = None
    statefulset: Name | None = Field(None, description="postgres or redis (infrastructure namespace)")
    container: Name | None = None
    cpu: Quantity | None = None
    memory: Quantity | None = None
    which: Literal["limits", "requests"] = "limits"

    @model_validator(mode="after")
    def _one_target(self) -> SetResourcesParams:
        if (self.deployment is None) == (self.statefulset is None):
            raise ValueError("give exactly one of deployment= or statefulset=")
        if self.cpu is None and self.memory is None:
            raise ValueError("give cpu= and/or memory=")
        return self


def _resource_refusal(ctx: ActionContext, p: SetResourcesParams) -> str | None:
    bounds = ctx.config.actions
    if p.cpu and parse_quantity(p.cpu) > bounds.max_cpu:
        return f"cpu {p.cpu} is above the allowed {bounds.max_cpu:g} cores"
    if p.memory and parse_quantity(p.memory) > bounds.max_memory_gi * 2**30:
        return f"memory {p.memory} is above the allowed {bounds.max_memory_gi:g}Gi"
    return None


@dataclass(frozen=True)
class _Workload:
    """The deployment (platform namespace) or statefulset (infrastructure) set-resources changes."""

    kind: str
    namespace: str
    name: str

    @staticmethod
    def of(ctx: ActionContext, p: SetResourcesParams) -> _Workload:
        if p.deployment:
            return _Workload("deployment", ctx.namespace, p.deployment)
        return _Workload("statefulset", ctx.config.platform.infra_namespace, p.statefulset or "")

    async def container(self, k: Kube, name: str | None) -> Any:
        """The container to change: the one named, or the workload's own."""
        obj = await (k.get_deployment if self.kind == "deployment" else k.get_statefulset)(self.namespace, self.name)
        return _container(obj, name)

    async def patch(self, k: Kube, container: str, patch: dict[str, Any], dry_run: bool = False) -> None:
        if self.kind == "deployment":
            await k.patch_container(self.namespace, self.name, container, patch, dry_run=dry_run)
        else:
            await k.patch_statefulset_container(self.namespace, self.name, container, patch, dry_run=dry_run)


async def preview_set_resources(ctx: ActionContext, p: SetResourcesParams) -> Preview:
    w = _Workload.of(ctx, p)
    target = f"{w.kind}/{w.namespace}/{w.name}"
    refusal = _resource_refusal(ctx, p)
    if refusal:
        return Preview([], refusal=refusal, target=target)
    wanted = {k: v for k, v in (("cpu", p.cpu), ("memory", p.memory)) if v}
    async with kube(ctx) as k:
        c = await w.container(k, p.container)
        await w.patch(k, c.name, {"resources": {p.which: wanted}}, dry_run=True)
    current = (getattr(c.resources, p.which, None) or {}) if c.resources else {}
    before = {key: current.get(key) for key in wanted}
    return Preview(
        [
            f"{w.kind}/{w.name} container {c.name} {p.which}: "
            + ", ".join(f"{key} {before[key]} -> {v}" for key, v in wanted.items())
        ],
        before,
        wanted,
        target=target,
    )


@action(
    "set-resources",
    summary="CPU/memory limits or requests of one container, within bounds",
    runbook="kubectl patch deployment|statefulset X -p '{…resources…}'",
    risk=Risk.DISRUPTIVE,
    params=SetResourcesParams,
    preview=preview_set_resources,
    verify="health",
)
async def set_resources(ctx: ActionContext, p: SetResourcesParams, preview: Preview) -> Outcome:
    w = _Workload.of(ctx, p)
    async with kube(ctx) as k:
        c = await w.container(k, p.container)
        await w.patch(k, c.name, {"resources": {p.which: preview.after}})
    undo_values = {k: v for k, v in preview.before.items() if v}
    undo = ("set-resources", {w.kind: w.name, "which": p.which, **undo_values}) if undo_values else None
    return Outcome(
        True,
        f"{w.name} {p.which}: " + ", ".join(f"{k}={v}" for k, v in preview.after.items()),
        preview.before,
        preview.after,
        undo=undo,
    )


# ---------------------------------------------------------------------- delete-pod
class DeletePodParams(ActionParams):
    pod: Name
    namespace: Name | None = Field(None, description="default: the infrastructure namespace")


async def preview_delete_pod(ctx: ActionContext, p: DeletePodParams) -> Preview:
    ns = p.namespace or ctx.config.platform.infra_namespace
    async with kube(ctx) as k:
        pods = {x.metadata.name: x for x in await k.list_pods(ns)}
        if p.pod not in pods:
            return Preview([], refusal=f"no pod {p.pod} in {ns}", target=f"pod/{ns}/{p.pod}")
        await k.delete_pod(ns, p.pod, dry_run=True)
    phase = pods[p.pod].status.phase if pods[p.pod].status else "?"
    return Preview(
        [f"delete pod {p.pod} in {ns} (now {phase}); its controller recreates it (careful!)"],
        {"phase": phase},
        {"phase": "deleted"},
        target=f"pod/{ns}/{p.pod}",
    )


@action(
    "delete-pod",
    summary="delete one named pod (e.g. postgres-0)",
    runbook="kubectl delete pod postgres-0",
    risk=Risk.DESTRUCTIVE,
    params=DeletePodParams,
    preview=preview_delete_pod,
    positional=("pod",),
    verify="db-connectivity",
)
async def delete_pod(ctx: ActionContext, p: DeletePodParams, preview: Preview) -> Outcome:
    ns = p.namespace or ctx.config.platform.infra_namespace
    async with kube(ctx) as k:
        await k.delete_pod(ns, p.pod)
    return Outcome(True, f"deleted pod {p.pod} in {ns}", preview.before, preview.after)
