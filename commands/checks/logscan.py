"""Read a bounded tail of every pod of a deployment and pull numbers and lines out of it."""

from __future__ import annotations

import asyncio
import re
import statistics
from dataclasses import dataclass, field

from commands.backends.kube import Kube, KubeError
from commands.config import LogSettings

_UNITS_MS = {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001, "": 1.0}


@dataclass
class PodLogs:
    """Log lines per pod, and the pods whose logs could not be read (with why)."""

    lines: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def all_lines(self) -> list[str]:
        return [line for lines in self.lines.values() for line in lines]


async def deployment_logs(kube: Kube, namespace: str, app: str, settings: LogSettings) -> PodLogs:
    """`kubectl logs -l app=<app> --tail=N --since=…` for every pod, concurrently."""
    pods = await kube.list_pods(namespace, f"app={app}")
    out = PodLogs()

    async def one(name: str) -> None:
        try:
            text = await kube.pod_log(namespace, name, settings.tail_lines, settings.since_s)
            out.lines[name] = text.splitlines()
        except KubeError as err:
            out.errors[name] = str(err)

    # Pods not yet on a node, or on their way out, have no logs to read.
    live = [p for p in pods if p.spec.node_name and not p.metadata.deletion_timestamp]
    await asyncio.gather(*(one(p.metadata.name) for p in live))
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
    """`grep -iE pattern`."""
    rx = re.compile(pattern, re.I)
    return [line for line in lines if rx.search(line)]


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
