"""`security`: the runbook's Suspicious Activity Detected."""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable

from commands.checks.kube_probes import KubeHandle, log_grep_probe
from commands.config import ChecksConfig
from commands.probes import run_probes
from commands.registry import CheckContext, CheckResult, NoParams, check
from commands.report import Severity, Suggestion

# Candidates for an address, IPv4 or IPv6 (`2001:db8::66`, `::ffff:198.51.100.7`, `[2001:db8::1]:443`):
# loose on purpose, each is then validated by the stdlib (`ipaddress`), which rejects times
# ("03:00:01"), MAC addresses and words.
_CANDIDATE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?|\b(?:\d{1,3}\.){3}\d{1,3}\b"
)
# Cluster-internal ranges: pods, services and nodes (IPv6: unique local fc00::/7), never the ones to block at the gateway.
_INTERNAL = [
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
]


def addresses(line: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The IPv4 and IPv6 addresses in a line, each validated by `ipaddress` (an IPv4-mapped IPv6
    address is its IPv4 one)."""
    out = []
    for candidate in _CANDIDATE.findall(line):
        for text in (candidate, candidate[:-1] if candidate.endswith(":") and not candidate.endswith("::") else ""):
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
            out.append(mapped or ip)
            break
    return out


def _external(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved:
        return False
    return not any(ip in net for net in _INTERNAL)


def offending_ips(lines: list[str], top: int = 5, at_least: int = 1) -> list[str]:
    """The non-internal IPv4 and IPv6 addresses seen most often in `lines`, in at least `at_least` of them."""
    seen: Counter[str] = Counter()
    for line in lines:
        for ip in dict.fromkeys(addresses(line)):  # once per line, in the order seen (ties keep it)
            if _external(ip):
                seen[str(ip)] += 1
    return [ip for ip, n in seen.most_common(top) if n >= at_least]


def block(lines: list[str], at_least: int = 1) -> list[Suggestion]:
    """The runbook's gateway remedies, where the lines name an outside address: block those seen
    at least `at_least` times, and rate-limit. Lines with no outside address (a Falco alert about
    a file read inside a container) point at nothing Kong can stop: no suggestion."""
    ips = offending_ips(lines, at_least=at_least)
    if not offending_ips(lines):
        return []
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


# A Falco alert is a line Falco wrote at an alerting priority (Warning or above: Falco's own scale
# is Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug), in its JSON output
# (`"priority":"Critical"`) or its text output ("03:00:00.1: Critical Sensitive file opened …"),
# whatever words its rule uses; the runbook's `grep -i suspicious` is kept beside it. Falco's own
# startup and status lines carry no priority and are not alerts.
FALCO_ALERT = (
    r'"priority"\s*:\s*"(emergency|alert|critical|error|warning)"'
    r"|^[\d:.TZ+-]+:\s+(emergency|alert|critical|error|warning)\b"
    r"|suspicious"
)


def failures_judged(cfg: ChecksConfig) -> Callable[[list[str], int], tuple[Severity, str, list[Suggestion]]]:
    """auth-service's failed/suspicious/blocked lines as a rate, per source address: WARNING when
    at least `thresholds.block_min_lines` of them make `thresholds.auth_failure_ratio_warn` of the
    lines read, or one address has `block_min_lines`; only such addresses are offered for
    blocking, and the stricter rate limit only when the share is high (three typos among 500
    logins are neither; nor are two failures in a quiet minute)."""
    th = cfg.thresholds

    def judge(hits: list[str], total: int) -> tuple[Severity, str, list[Suggestion]]:
        ratio = len(hits) / total if total else 0.0
        high = ratio >= th.auth_failure_ratio_warn and len(hits) >= th.block_min_lines
        repeat = offending_ips(hits, at_least=th.block_min_lines)
        note = (
            f" ({ratio:.1%}; warning from {th.block_min_lines} line(s) making {th.auth_failure_ratio_warn:.0%}, "
            f"or {th.block_min_lines} from one address)"
        )
        if not high and not repeat:
            return Severity.OK, note, []
        out = block(hits, th.block_min_lines)
        if not high:
            out = [s for s in out if s.action != "rate-limit"]
        return Severity.WARNING, note, out

    return judge


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
                    kh, "falco-system", "falco", FALCO_ALERT, "Falco alert(s)", Severity.CRITICAL, block, None
                ),
                "auth": log_grep_probe(
                    kh,
                    cfg.namespace,
                    "auth-service",
                    r"\b(failed|suspicious|blocked)\b",
                    "failed/suspicious/blocked line(s)",
                    level=None,
                    judge=failures_judged(cfg),
                ),
                "kong": log_grep_probe(
                    kh,
                    "kong",
                    "kong-gateway",
                    r"rate.limit",
                    "rate-limit line(s)",
                    Severity.WARNING,
                    lambda hits: block(hits, cfg.thresholds.block_min_lines),
                    None,
                ),
            },
        )
    return CheckResult(findings)
