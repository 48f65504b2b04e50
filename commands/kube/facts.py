"""Plain facts about Kubernetes objects: which pods are unhealthy and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from commands.durations import ago

RESTART_WINDOW_S = 3600.0  # the default of `thresholds.restart_window_s`


@dataclass
class PodState:
    namespace: str
    name: str
    phase: str
    ready: bool
    restarts: int
    reasons: list[str] = field(default_factory=list)
    oom_killed: bool = False
    init_failed: list[str] = field(default_factory=list)  # init containers that failed: the pod never started
    oom_containers: list[str] = field(default_factory=list)  # "name (role)" of each container last OOMKilled
    evicted: str | None = None  # the kubelet's message when the pod was evicted (phase Failed, reason Evicted)
    last_restart_s: float | None = None  # seconds since its latest container restart (None: none, or when unknown)
    recent_restarts: int = (
        0  # restarts of the containers whose last restart falls in the window (or at an unknown time)
    )
    window_s: float = RESTART_WINDOW_S

    def restarting(self, at_least: int) -> bool:
        """`at_least` restarts, the last within the window: a restart older than it is history."""
        return self.recent_restarts >= at_least

    def restart_history(self) -> str:
        """`12 restart(s), the last 3 d ago` (the lifetime count kubectl shows, and when)."""
        when = f", the last {ago(self.last_restart_s)}" if self.last_restart_s is not None else ""
        return f"{self.restarts} restart(s){when}"

    @property
    def healthy(self) -> bool:
        # a pod being deleted is on its way out (a rollout, a scale-down), an evicted pod is history
        # (its controller made a new one; `kubectl get pods` lists it until deleted): not a fault of
        # its own now (`pods_probe` shows evictions apart, with the node pressure that caused them)
        return (
            self.phase in ("Succeeded", "Terminating")
            or self.evicted is not None
            or (self.phase == "Running" and self.ready and not self.reasons)
        )

    def describe(self) -> str:
        why = ", ".join(self.reasons) or ("not ready" if not self.ready else self.phase)
        return f"{self.namespace}/{self.name}: {self.phase}, {why}, restarts {self.restarts}"


def container_roles(pod: Any) -> dict[str, str]:
    """Each container of a pod by its role: "app" (the workload's own: the default container
    named by `kubectl.kubernetes.io/default-container`, else the first), "sidecar" (every other
    container, and an init container that keeps running: restartPolicy Always), "init"."""
    spec = pod.spec
    containers = [c.name for c in (spec.containers or [])] if spec else []
    default = ((pod.metadata.annotations or {}).get("kubectl.kubernetes.io/default-container")) or (
        containers[0] if containers else None
    )
    roles = {c: ("app" if c == default else "sidecar") for c in containers}
    for c in (spec.init_containers or []) if spec else []:
        roles[c.name] = "sidecar" if getattr(c, "restart_policy", None) == "Always" else "init"
    return roles


IGNORED_WAITING = ("ContainerCreating", "PodInitializing")  # consequences (not started yet), never a cause


def _restarted_at(c: Any) -> datetime | None:
    """When a container last restarted: its last termination's finishedAt, else its current start."""
    last = c.last_state.terminated if c.last_state else None
    if last and last.finished_at:
        return last.finished_at  # type: ignore[no-any-return]
    running = c.state.running if c.state else None
    return running.started_at if running and running.started_at else None


def pod_state(pod: Any, window_s: float = RESTART_WINDOW_S, now: datetime | None = None) -> PodState:
    """Phase, readiness, restarts, and the reasons a pod is unwell (CrashLoopBackOff, OOMKilled…).

    Restarts are judged over `window_s` (`thresholds.restart_window_s`): restartCount counts since
    the pod was created, so a container whose last restart (lastState.terminated.finishedAt, else
    its current start) is older than the window restarted in the past, not now: its restarts and
    its last OOMKilled are history (`restart_history`), not a reason; one whose time is unknown
    counts as recent.

    Init containers first: one that fails keeps the pod in its init phase (kubectl's
    "Init:CrashLoopBackOff"), and the app containers, waiting in PodInitializing, are only its
    consequence; the reason names the init container ("init container db-migrate CrashLoopBackOff")."""
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    statuses = (status.container_statuses if status else None) or []
    inits = (status.init_container_statuses if status else None) or []
    roles = container_roles(pod)
    restarts = sum(c.restart_count or 0 for c in (*inits, *statuses))
    now = now or datetime.now(UTC)
    ages = {
        c.name: (now - at).total_seconds() if (at := _restarted_at(c)) else None
        for c in (*inits, *statuses)
        if c.restart_count
    }
    recent = {name for name, age in ages.items() if age is None or age <= window_s}
    known = [age for age in ages.values() if age is not None]
    reasons: list[str] = []
    init_failed: list[str] = []
    oom_in: list[str] = []
    for c in inits:
        if roles.get(c.name) == "sidecar":
            continue  # a native sidecar runs beside the app: judged with the containers below
        waiting = c.state.waiting if c.state else None
        terminated = c.state.terminated if c.state else None
        failed = (waiting and waiting.reason and waiting.reason not in IGNORED_WAITING and waiting.reason) or (
            terminated and terminated.exit_code and (terminated.reason or f"exit code {terminated.exit_code}")
        )
        if failed:
            reasons.append(f"init container {c.name} {failed}")
            init_failed.append(c.name)
        last = c.last_state.terminated if c.last_state else None
        if last and last.reason == "OOMKilled" and (c.name in recent or not c.restart_count):
            oom_in.append(f"{c.name} (init)")
    for c in [s for s in inits if roles.get(s.name) == "sidecar"] + list(statuses):
        waiting = c.state.waiting if c.state else None
        if waiting and waiting.reason and waiting.reason not in IGNORED_WAITING:
            reasons.append(f"{c.name}: {waiting.reason}")
        terminated = c.state.terminated if c.state else None
        if terminated and terminated.reason and terminated.reason != "Completed":
            reasons.append(f"{c.name}: {terminated.reason}")
        last = c.last_state.terminated if c.last_state else None
        if last and last.reason == "OOMKilled" and (c.name in recent or not c.restart_count):
            oom_in.append(f"{c.name} ({roles.get(c.name, 'container')})")
            reasons.append(f"{c.name}: last restart OOMKilled")
    ready = bool(statuses) and all(c.ready for c in statuses)
    conditions = (status.conditions if status else None) or []
    # The first condition that failed says why: not scheduled (Unschedulable: no node fits) comes
    # before not ready (ContainersNotReady is only its consequence).
    for kind in ("PodScheduled", "Ready"):
        for cond in conditions:
            if cond.type == kind and cond.status != "True" and cond.reason and not reasons:
                reasons.append(cond.reason)
    if init_failed:  # what kubectl shows: Init:<reason>
        phase = f"Init:{reasons[0].rsplit(' ', 1)[-1]}"
    if pod.metadata.deletion_timestamp:  # what kubectl shows: on its way out, whatever its phase
        phase = "Terminating"
    evicted = None
    if status and status.reason == "Evicted" and phase == "Failed":
        evicted = status.message or "evicted"
        phase, reasons = "Evicted", ["Evicted"]
    return PodState(
        pod.metadata.namespace,
        pod.metadata.name,
        phase,
        ready,
        restarts,
        reasons,
        bool(oom_in),
        init_failed,
        oom_in,
        evicted,
        min(known) if known else None,
        sum(c.restart_count or 0 for c in (*inits, *statuses) if c.name in recent),
        window_s,
    )


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
