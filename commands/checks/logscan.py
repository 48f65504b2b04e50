"""Read a bounded tail of every pod of a deployment and pull numbers and lines out of it."""

from __future__ import annotations

import asyncio
import re
import statistics
from dataclasses import dataclass, field
from typing import Any

from commands.backends.kube import Kube, KubeError
from commands.config import LogSettings
from commands.log_levels import LEVELS, line_level
from commands.patterns import compile_pattern

_UNITS_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001, "": 1.0}


@dataclass
class PodLogs:
    """Log lines per source, and the sources whose logs could not be read (with why).

    A source is one container of one pod, `pod/container`, and for a container that restarted
    also its previous instance, `pod/container (previous)` (what `kubectl logs --previous`
    shows: the lines before an OOM kill or a crash). `pods` names the pods read."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    pods: set[str] = field(default_factory=set)
    matched: int = 0  # pods the selector matched, read or not (not yet on a node, being deleted)

    def all_lines(self) -> list[str]:
        return [line for lines in self.lines.values() for line in lines]

    def tagged(self) -> list[tuple[str, str]]:
        """(source, line) for every line."""
        return [(src, line) for src, lines in self.lines.items() for line in lines]


async def deployment_logs(kube: Kube, namespace: str, app: str, settings: LogSettings) -> PodLogs:
    """`kubectl logs -l app=<app> --all-containers --tail=N --since=…`: `selector_logs` of app=<app>."""
    return await selector_logs(kube, namespace, f"app={app}", settings)


async def selector_logs(kube: Kube, namespace: str, selector: str, settings: LogSettings) -> PodLogs:
    """`kubectl logs -l <selector> --all-containers --tail=N --since=…` for every pod, container by
    container (a pod with a sidecar refuses a read that names no container), plus `--previous`
    of every container that restarted and the init containers that failed (`containers_to_read`);
    concurrently. The one reader of every log check and the runbook's logs probe."""
    pods = await kube.list_pods(namespace, selector)
    out = PodLogs(matched=len(pods))

    async def one(pod: str, container: str, previous: bool) -> None:
        source = f"{pod}/{container}" + (" (previous)" if previous else "")
        try:
            text = await kube.pod_log(namespace, pod, settings.tail_lines, settings.since_s, container, previous)
            out.lines[source] = text.splitlines()
        except KubeError as err:
            if not previous:  # a previous instance may be gone (node restart, pod recreated): not an error
                out.errors[source] = str(err)

    # Pods not yet on a node, or on their way out, have no logs to read.
    live = [p for p in pods if p.spec.node_name and not p.metadata.deletion_timestamp]
    reads = []
    for p in live:
        out.pods.add(p.metadata.name)
        for name, previous in containers_to_read(p):
            reads.append(one(p.metadata.name, name, previous))
    await asyncio.gather(*reads)
    return out


def containers_to_read(pod: Any) -> list[tuple[str, bool]]:
    """(container, previous) of every log a pod has: each container, the init containers that
    ran and did not complete (a failing one says why the pod never started: `kubectl logs -c <init>`), and the
    previous instance of each that restarted (`--previous`). An init container that never
    started or completed its job, or an app container still waiting for its init phase, is not read."""
    status = pod.status
    statuses = (
        {c.name: c for c in [*(status.init_container_statuses or []), *(status.container_statuses or [])]}
        if status
        else {}
    )

    def init_worth_reading(name: str) -> bool:
        """An init container that ran and has not simply completed (a completed one did its job)."""
        c = statuses.get(name)
        if c is None or not c.state:
            return False
        done = c.state.terminated and c.state.terminated.exit_code == 0
        ran = c.restart_count or c.state.running or c.state.terminated or (c.last_state and c.last_state.terminated)
        return bool(ran and not done)

    out: list[tuple[str, bool]] = []
    for c in [*(pod.spec.init_containers or []), *pod.spec.containers]:
        is_init = c not in pod.spec.containers
        if is_init and not init_worth_reading(c.name):
            continue
        waiting = statuses.get(c.name) and statuses[c.name].state and statuses[c.name].state.waiting
        if not is_init and waiting and waiting.reason == "PodInitializing":
            continue
        out.append((c.name, False))
        if statuses.get(c.name) is not None and statuses[c.name].restart_count:
            out.append((c.name, True))
    return out


def metric_pattern(name: str) -> re.Pattern[str]:
    """`response_time=245ms`, `response_time: 1.2s`, `"response_time": 245` (ms assumed)."""
    return re.compile(rf"""{re.escape(name)}["']?\s*[=:]\s*["']?(\d+(?:\.\d+)?)\s*(ms|s|us|µs)?\b""", re.I)


def extract_ms(lines: list[str], name: str) -> list[tuple[float, str]]:
    """Every value of `name` in milliseconds, with the line it came from."""
    pattern = metric_pattern(name)
    found = []
    for line in lines:
        m = pattern.search(line)
        if m:
            found.append((float(m.group(1)) * _UNITS_MS[(m.group(2) or "").lower()], line))
    return found


def grep(lines: list[str], pattern: str) -> list[str]:
    """`grep -iE pattern`, in RE2 (linear time: `commands.patterns`). CPU work: call it off the loop."""
    rx = compile_pattern(pattern, ignore_case=True)
    return [line for line in lines if rx.search(line)]


def at_least(lines: list[str], level: str | None) -> list[str]:
    """Lines at `level` or above, and lines with no level; every line when `level` is None."""
    if level is None:
        return lines
    floor = LEVELS[level]
    return [line for line in lines if (rank := line_level(line)) is None or rank >= floor]


@dataclass
class Percentiles:
    count: int
    p50: float
    p95: float
    max: float

    def fields(self, unit: str = "ms") -> dict[str, str]:
        return {
            "samples": str(self.count),
            "p50": f"{self.p50:.0f}{unit}",
            "p95": f"{self.p95:.0f}{unit}",
            "max": f"{self.max:.0f}{unit}",
        }


def percentiles(values: list[float]) -> Percentiles | None:
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return Percentiles(1, ordered[0], ordered[0], ordered[0])
    q = statistics.quantiles(ordered, n=100, method="inclusive")
    return Percentiles(len(ordered), q[49], q[94], ordered[-1])
