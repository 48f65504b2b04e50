"""`security`: the runbook's Suspicious Activity Detected."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter

from commands.checks.kube_probes import KubeHandle, log_grep_probe
from commands.probes import run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Severity, Suggestion

_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
# Cluster-internal ranges: pods, services and nodes, never the ones to block at the gateway.
_INTERNAL = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]


def _external(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved:
        return False
    return not any(ip in net for net in _INTERNAL)


def offending_ips(lines: list[str], top: int = 5) -> list[str]:
    """The non-internal IPv4 addresses seen most often in `lines`."""
    seen: Counter[str] = Counter()
    for line in lines:
        for candidate in _IPV4.findall(line):
            try:
                ip = ipaddress.ip_address(candidate)
            except ValueError:
                continue
            if _external(ip):
                seen[str(ip)] += 1
    return [ip for ip, _ in seen.most_common(top)]


def block(lines: list[str]) -> list[Suggestion]:
    ips = offending_ips(lines)
    out = []
    if ips:
        out.append(
            Suggestion(
                action="block-ips",
                params={"ips": ",".join(ips)},
                why="runbook: block the addresses seen most in these lines",
            )
        )
    out.append(
        Suggestion(
            action="rate-limit",
            params={"rate_limit": "10", "rate_limit_window": "60"},
            why="runbook: stricter rate limiting",
        )
    )
    return out


@check(
    "security",
    summary="Falco alerts, failed/suspicious/blocked auth lines, Kong rate-limit lines",
    runbook="Security Issues — Suspicious Activity Detected",
    probes=("falco", "auth", "kong"),
)
async def security(ctx: CheckContext, params: NoParams) -> CheckResult:
    cfg = ctx.config
    with KubeHandle(ctx) as kh:
        findings = await run_probes(
            ctx,
            {
                "falco": log_grep_probe(
                    kh, "falco-system", "falco", r"suspicious", "Falco alert(s)", Severity.CRITICAL, block
                ),
                "auth": log_grep_probe(
                    kh,
                    cfg.namespace,
                    "auth-service",
                    r"\b(failed|suspicious|blocked)\b",
                    "failed/suspicious/blocked line(s)",
                    Severity.WARNING,
                    block,
                ),
                "kong": log_grep_probe(
                    kh, "kong", "kong-gateway", r"rate.limit", "rate-limit line(s)", Severity.WARNING, block
                ),
            },
        )
    return CheckResult(findings)
