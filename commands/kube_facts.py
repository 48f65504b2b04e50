"""Plain facts about Kubernetes objects: which pods are unhealthy and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PodState:
    namespace: str
    name: str
    phase: str
    ready: bool
    restarts: int
    reasons: list[str] = field(default_factory=list)
    oom_killed: bool = False

    @property
    def healthy(self) -> bool:
        # a pod being deleted is on its way out (a rollout, a scale-down): not a fault of its own
        return self.phase in ("Succeeded", "Terminating") or (
            self.phase == "Running" and self.ready and not self.reasons
        )

    def describe(self) -> str:
        why = ", ".join(self.reasons) or ("not ready" if not self.ready else self.phase)
        return f"{self.namespace}/{self.name}: {self.phase}, {why}, restarts {self.restarts}"


def pod_state(pod: Any) -> PodState:
    """Phase, readiness, restarts, and the reasons a pod is unwell (CrashLoopBackOff, OOMKilled…)."""
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    statuses = (status.container_statuses if status else None) or []
    restarts = sum(c.restart_count or 0 for c in statuses)
    reasons: list[str] = []
    oom = False
    for c in statuses:
        waiting = c.state.waiting if c.state else None
        if waiting and waiting.reason and waiting.reason != "ContainerCreating":
            reasons.append(f"{c.name}: {waiting.reason}")
        terminated = c.state.terminated if c.state else None
        if terminated and terminated.reason and terminated.reason != "Completed":
            reasons.append(f"{c.name}: {terminated.reason}")
        last = c.last_state.terminated if c.last_state else None
        if last and last.reason == "OOMKilled":
            oom = True
            reasons.append(f"{c.name}: last restart OOMKilled")
    ready = bool(statuses) and all(c.ready for c in statuses)
    conditions = (status.conditions if status else None) or []
    # The first condition that failed says why: not scheduled (Unschedulable: no node fits) comes
    # before not ready (ContainersNotReady is only its consequence).
    for kind in ("PodScheduled", "Ready"):
        for cond in conditions:
            if cond.type == kind and cond.status != "True" and cond.reason and not reasons:
                reasons.append(cond.reason)
    if pod.metadata.deletion_timestamp:  # what kubectl shows: on its way out, whatever its phase
        phase = "Terminating"
    return PodState(pod.metadata.namespace, pod.metadata.name, phase, ready, restarts, reasons, oom)


def deployment_shortfall(dep: Any) -> tuple[int, int] | None:
    """(ready, desired) when a deployment has fewer ready replicas than it wants."""
    desired = dep.spec.replicas if dep.spec.replicas is not None else 1
    ready = (dep.status.ready_replicas if dep.status else 0) or 0
    return (ready, desired) if ready < desired else None


def parse_quantity(value: str) -> float:
    """Kubernetes quantity to a number: CPU in cores, memory in bytes."""
    units = {
        "Ki": 2**10,
        "Mi": 2**20,
        "Gi": 2**30,
        "Ti": 2**40,
        "K": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "n": 1e-9,
        "u": 1e-6,
        "m": 1e-3,
    }
    for suffix in sorted(units, key=len, reverse=True):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * units[suffix]
    return float(value)
