"""Probes over the network from the bot: HTTP, TCP, DNS."""

from __future__ import annotations

import time
from typing import Any

import re2

from commands.backends import net
from commands.checks.kube_probes import KubeHandle
from commands.config import service
from commands.registry import CheckContext
from commands.report import Severity
from commands.runbook import model as m
from commands.runbook.judge import Observed, severity_of, thresholds_text
from commands.runbook.probes.base import _finding, service_address


async def http(ctx: CheckContext, kh: KubeHandle, p: m.HttpProbe) -> Observed:
    url = p.url or service(ctx.config, p.service or "").base_url(ctx.config.namespace).rstrip("/") + p.path
    res = await net.http_get(url, ctx.config.timeouts.probe_s)
    ev = {"status": res.status or "", "ms": round(res.ms), "url": url}
    if res.status is None:
        return Observed([_finding(p, Severity.CRITICAL, f"{url}: {res.error}")], ev)
    if res.status not in p.expect_status:
        want = ", ".join(map(str, p.expect_status))
        return Observed([_finding(p, Severity.CRITICAL, f"{url} answered HTTP {res.status} (expected {want})")], ev)
    if p.body_pattern is not None:
        options = re2.Options()
        options.log_errors = False
        if not re2.compile(p.body_pattern, options).search(res.body):
            return Observed([_finding(p, Severity.CRITICAL, f"{url}: the body does not match `{p.body_pattern}`")], ev)
    sev = severity_of(res.ms, p)
    return Observed([_finding(p, sev, f"{url}: HTTP {res.status} in {res.ms:.0f}ms", thresholds_text(p, "ms"))], ev)


async def tcp(ctx: CheckContext, kh: KubeHandle, p: m.TcpProbe) -> Observed:
    host, port = (p.host, p.port) if p.host and p.port else service_address(ctx.config, p.service or "")
    what = f"{p.service} ({host}:{port})" if p.service else f"{host}:{port}"
    ev: dict[str, Any] = {"host": host, "port": port}
    try:
        ms = await net.tcp_connect_ms(host, port, ctx.config.timeouts.probe_s)
    except (OSError, TimeoutError) as err:
        why = "no answer" if isinstance(err, TimeoutError) else (err.strerror or type(err).__name__)
        return Observed([_finding(p, Severity.CRITICAL, f"{what} unreachable: {why}")], ev)
    text = f"{what} accepts connections in {ms:.0f}ms"
    return Observed([_finding(p, severity_of(ms, p), text, thresholds_text(p, "ms"))], {**ev, "ms": round(ms)})


async def dns(ctx: CheckContext, kh: KubeHandle, p: m.DnsProbe) -> Observed:
    t0 = time.monotonic()
    try:
        addrs = await net.resolve(p.host, ctx.config.timeouts.probe_s)
    except OSError as err:
        return Observed([_finding(p, Severity.CRITICAL, f"{p.host} does not resolve", str(err))], {"host": p.host})
    ms = (time.monotonic() - t0) * 1000
    text = f"{p.host} resolves to {', '.join(addrs[:3])} in {ms:.0f}ms"
    return Observed(
        [_finding(p, severity_of(ms, p), text, thresholds_text(p, "ms"))], {"ms": round(ms), "host": p.host}
    )
