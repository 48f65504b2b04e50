"""What every probe kind shares: its finding's title, the namespace it reads, a service's address."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from commands.checks.endpoint_probes import host_port, postgres_host_port
from commands.checks.kube_probes import KubeHandle
from commands.config import ChecksConfig
from commands.registry import CheckContext
from commands.report import Finding, Severity
from commands.runbook import model as m
from commands.runbook.judge import Observed

Runner = Callable[[CheckContext, KubeHandle, Any], Awaitable[Observed]]


def _title(p: m.ProbeBase, text: str) -> str:
    return f"{p.title}: {text}" if p.title else text


def _finding(p: m.ProbeBase, severity: Severity, text: str, detail: str = "", **kw: Any) -> Finding:
    return Finding(severity=severity, title=_title(p, text), detail=detail, probe=p.id, **kw)


def _ns(ctx: CheckContext, p: m.InNamespace) -> str:
    return p.where(ctx.config.namespace, ctx.config.platform.infra_namespace)


def service_address(cfg: ChecksConfig, name: str) -> tuple[str, int]:
    """host, port of a platform service (its configured URL) or of postgres, redis, kafka (their DSNs)."""
    if name == "postgres":
        return postgres_host_port(cfg)
    if name == "redis":
        u = urlsplit(cfg.redis_url)
        return u.hostname or "localhost", u.port or 6379
    if name == "kafka":
        first = cfg.kafka_bootstrap.split(",")[0].strip()
        host, _, port = first.rpartition(":")
        return host or first, int(port or 9092)
    return host_port(cfg, name)


def _app(selector: str) -> str | None:
    """`app=X` (alone or first) gives the deployment X, for templates and the scaled-to-0 rule."""
    first = selector.split(",")[0].strip()
    return first.removeprefix("app=") if first.startswith("app=") else None
