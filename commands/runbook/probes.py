"""The probe catalogue of runbook files at run time: one function per kind, over the existing backends.

Each returns an `Observed` (findings + the evidence fields templates may name). The rules are the
built-in checks': nothing read is UNKNOWN with what was looked for, never OK; a value is judged
against the probe's thresholds in its stated unit and the finding names the window or source it
rests on; counters are rates over the rate window. Backend failures raise `BackendError`, which
`commands.probes.run_probes` turns into the one finding per cause. Pattern matching over log
lines runs in a worker thread (RE2, linear time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import re2

from commands.backends import net, postgres
from commands.backends import redis as redis_backend
from commands.backends.kube import KubeError
from commands.checks.endpoint_probes import host_port, postgres_host_port
from commands.checks.kube_probes import KubeHandle, log_window, no_pods, samples
from commands.checks.logscan import extract_ms
from commands.checks.rates import two_samples
from commands.config import ChecksConfig, service
from commands.kube_facts import parse_quantity, pod_state
from commands.registry import CheckContext
from commands.report import Fields, Finding, Severity, Table
from commands.runbook import model as m
from commands.runbook.judge import Observed, severity_of, thresholds_text

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


async def pods(ctx: CheckContext, kh: KubeHandle, p: m.PodsProbe) -> Observed:
    ns = _ns(ctx, p)
    found = await kh.get().list_pods(ns, p.selector)
    if not found:
        return Observed(await no_pods(kh, ns, p.selector, p.selector))
    states = [pod_state(x) for x in found]
    rt = ctx.config.thresholds.restarts_warn
    if p.measure == "not_ready":
        bad = [s for s in states if not s.healthy]
    elif p.measure == "restarts":
        bad = [s for s in states if s.restarts >= rt]
    else:
        bad = [s for s in states if s.oom_killed]
    words = {"not_ready": "not running/ready", "restarts": f"restarted {rt}+ times", "oom_killed": "OOMKilled"}
    sev = severity_of(len(bad), p, critical=1)
    rows = [[s.name, s.phase, "yes" if s.ready else "no", str(s.restarts), ", ".join(s.reasons) or "-"] for s in bad]
    evidence = [Table(columns=["pod", "phase", "ready", "restarts", "reasons"], rows=rows)] if rows else []
    text = f"{len(bad)} of {len(states)} pod(s) {words[p.measure]} ({p.selector} in {ns})"
    first = bad[0].name if bad else ""
    return Observed(
        [_finding(p, sev, text, thresholds_text(p, " pod(s)", critical=1), evidence=evidence)],
        {"count": len(bad), "pod": first, "deployment": _app(p.selector) or "", "namespace": ns},
    )


async def _selector_lines(
    ctx: CheckContext, kh: KubeHandle, ns: str, selector: str
) -> tuple[dict[str, list[str]], dict[str, str], int]:
    """Recent lines of every container of every live pod matching `selector`, and what could not be read."""
    found = await kh.get().list_pods(ns, selector)
    live = [x for x in found if x.spec.node_name and not x.metadata.deletion_timestamp]
    lines: dict[str, list[str]] = {}
    errors: dict[str, str] = {}
    cfg = ctx.config.logs

    async def one(pod: str, container: str | None) -> None:
        where = f"{pod}/{container}" if container else pod
        try:
            text = await kh.get().pod_log(ns, pod, cfg.tail_lines, cfg.since_s, container=container)
            lines[where] = text.splitlines()
        except KubeError as err:
            errors[where] = str(err)

    jobs = []
    for x in live:
        names = [c.name for c in (x.spec.containers or [])]
        jobs += [one(x.metadata.name, c if len(names) > 1 else None) for c in names or [None]]
    await asyncio.gather(*jobs)
    return lines, errors, len(found)


def _match(lines: list[str], pattern: str, levels: list[str]) -> list[str]:
    """Lines matching an RE2 pattern (case-insensitive), at one of `levels` when given."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    rx = re2.compile(pattern, options)
    wanted = [lv.upper() for lv in levels]
    return [ln for ln in lines if rx.search(ln) and (not wanted or any(w in ln.upper() for w in wanted))]


TIME_FIELDS = ("_time", "_ms", "_latency", "_duration")  # values converted to milliseconds (logscan.extract_ms)


def _stat(values: list[float], stat: str) -> float:
    ordered = sorted(values)
    if stat == "max":
        return ordered[-1]
    q = 0.5 if stat == "p50" else 0.95
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def logs(ctx: CheckContext, kh: KubeHandle, p: m.LogsProbe) -> Observed:
    ns = _ns(ctx, p)
    by_source, errors, npods = await _selector_lines(ctx, kh, ns, p.selector)
    window = log_window(ctx.config)
    every = [ln for src in by_source.values() for ln in src]
    unread = "; ".join(f"{k}: {v}" for k, v in errors.items())
    if not every:
        if npods == 0:
            return Observed(await no_pods(kh, ns, p.selector, p.selector))
        why = f"logs could not be read: {unread}" if unread else f"0 log lines from {npods} pod(s) ({window})"
        return Observed([_finding(p, Severity.UNKNOWN, f"{p.selector}: nothing to judge", why)])
    hits = await asyncio.to_thread(_match, every, p.pattern, p.levels)
    base = {
        "count": len(hits),
        "pod": next((k.split("/")[0] for k, v in by_source.items() if set(v) & set(hits)), ""),
        "deployment": _app(p.selector) or "",
        "namespace": ns,
    }
    read = f"{len(every)} line(s) from {len(by_source)} container(s) ({window})" + (
        f"; unread: {unread}" if unread else ""
    )
    if p.field is None:
        minutes = max(ctx.config.logs.since_s / 60, 1)
        rate = len(hits) / minutes
        sev = severity_of(len(hits), p, warning=1)
        text = f"{len(hits)} line(s) matching `{p.pattern}` in {p.selector} ({rate:.2g}/min)"
        return Observed(
            [
                _finding(
                    p,
                    sev,
                    text,
                    f"{read}; {thresholds_text(p, ' line(s) in the window', warning=1)}",
                    evidence=samples(hits, ctx.config.logs.samples),
                )
            ],
            {**base, "value": round(rate, 3)},
        )
    values = [v for v, _ in await asyncio.to_thread(extract_ms, hits, p.field)]
    if len(values) < p.min_lines:
        text = f"{p.selector}: {len(values)} {p.field} value(s), fewer than {p.min_lines}: nothing to judge"
        return Observed([_finding(p, Severity.UNKNOWN, text, read)], base)
    value = _stat(values, p.stat)
    sev = severity_of(value, p)
    unit = "ms" if p.field.endswith(TIME_FIELDS) else ""
    text = f"{p.selector} {p.field}: {p.stat} {value:g}{unit} over {len(values)} value(s)"
    return Observed(
        [
            _finding(
                p,
                sev,
                text,
                f"{read}; {thresholds_text(p, unit)}",
                evidence=[Fields(items={"values": str(len(values)), p.stat: f"{value:g}"})],
            )
        ],
        {**base, "value": value},
    )


async def events(ctx: CheckContext, kh: KubeHandle, p: m.EventsProbe) -> Observed:
    ns = _ns(ctx, p)
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    rx = re2.compile(p.pattern, options)
    warn = [
        e
        for e in await kh.get().list_events(ns)
        if e.type == "Warning" and rx.search(f"{e.reason or ''} {e.message or ''}")
    ]
    sev = severity_of(len(warn), p, warning=1)
    rows = [
        [
            f"{e.involved_object.kind}/{e.involved_object.name}",
            e.reason or "-",
            str(e.count or 1),
            (e.message or "")[:120],
        ]
        for e in warn[:10]
    ]
    text = f"{len(warn)} Warning event(s) matching `{p.pattern}` in {ns}"
    first = warn[0] if warn else None
    return Observed(
        [
            _finding(
                p,
                sev,
                text,
                thresholds_text(p, "", warning=1),
                evidence=[Table(columns=["object", "reason", "count", "message"], rows=rows)] if rows else [],
            )
        ],
        {
            "count": len(warn),
            "object": first.involved_object.name if first else "",
            "reason": (first.reason or "") if first else "",
            "namespace": ns,
        },
    )


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


async def endpoints(ctx: CheckContext, kh: KubeHandle, p: m.EndpointsProbe) -> Observed:
    ns = _ns(ctx, p)
    ep = await kh.get().get_endpoints(ns, p.service)
    ready = [a.ip for s in (ep.subsets or []) for a in (s.addresses or [])]
    waiting = [a.ip for s in (ep.subsets or []) for a in (s.not_ready_addresses or [])]
    judged = (
        p
        if p.warning is not None or p.critical is not None
        else p.model_copy(update={"direction": "below", "critical": 0})
    )
    text = f"Service {p.service} in {ns}: {len(ready)} ready endpoint(s)"
    detail = f"not ready: {', '.join(waiting) or 'none'}; {thresholds_text(judged, '')}"
    ev = {"count": len(ready), "service": p.service, "namespace": ns}
    return Observed([_finding(p, severity_of(len(ready), judged), text, detail)], ev)


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


async def sql(ctx: CheckContext, kh: KubeHandle, p: m.SqlProbe) -> Observed:
    async with postgres.connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
        async with conn.transaction():
            await conn.execute("SET TRANSACTION READ ONLY")
            async with conn.cursor() as cur:
                await cur.execute(p.query)  # one SELECT, checked by lint; READ ONLY and statement_timeout here
                rows = await cur.fetchmany(p.max_rows + 1)
    capped = len(rows) > p.max_rows
    rows = rows[: p.max_rows]
    if p.value == "rows":
        value: float = len(rows)
        text = f"{len(rows)}{'+' if capped else ''} row(s)"
    else:
        first = next(iter(rows[0].values()), None) if rows else None
        if first is None:
            return Observed([_finding(p, Severity.UNKNOWN, "the query returned no value: nothing to judge")])
        try:
            value = float(first)
        except (TypeError, ValueError):
            return Observed(
                [_finding(p, Severity.UNKNOWN, f"the query's first value is not a number ({str(first)[:40]!r})")]
            )
        text = f"value {value:g}"
    table = [Table(columns=list(rows[0]), rows=[[str(v)[:80] for v in r.values()] for r in rows[:10]])] if rows else []
    note = f"; first {p.max_rows} rows only" if capped else ""
    return Observed(
        [_finding(p, severity_of(value, p), text, thresholds_text(p, "") + note, evidence=table)], {"value": value}
    )


async def redis_info(ctx: CheckContext, kh: KubeHandle, p: m.RedisInfoProbe) -> Observed:
    async with redis_backend.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as r:

        async def sample() -> float | None:
            info = await r.info("all")
            v = info.get(p.field)
            return float(v) if isinstance(v, int | float) else None

        if p.rate:
            before, after, seconds = await two_samples(sample, ctx.config.thresholds.rate_window_s)
        else:
            before, after, seconds = None, await sample(), 0.0
    if after is None:
        return Observed([_finding(p, Severity.UNKNOWN, f"Redis INFO has no numeric `{p.field}`: nothing to judge")])
    if p.rate:
        if before is None or seconds <= 0:
            return Observed([_finding(p, Severity.UNKNOWN, f"`{p.field}` could not be sampled twice")])
        value = max(after - before, 0) / seconds
        text = f"Redis {p.field}: {value:.3g}/s over {seconds:.0f}s"
        unit = "/s"
    else:
        value, text, unit = after, f"Redis {p.field}: {after:g}", ""
    return Observed([_finding(p, severity_of(value, p), text, thresholds_text(p, unit))], {"value": value})


async def redis_keys(ctx: CheckContext, kh: KubeHandle, p: m.RedisKeysProbe) -> Observed:
    limit = ctx.config.redis.scan_limit
    keys: list[str] = []
    async with redis_backend.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as r:
        async for k in r.scan_iter(match=p.pattern, count=200):
            keys.append(k)
            if len(keys) >= limit:
                break
    more = len(keys) >= limit
    text = f"{len(keys)}{'+' if more else ''} key(s) match `{p.pattern}`"
    detail = thresholds_text(p, " key(s)") + (f"; the scan stops at {limit} keys" if more else "")
    return Observed(
        [_finding(p, severity_of(len(keys), p), text, detail)], {"count": len(keys), "key": keys[0] if keys else ""}
    )


async def kafka_lag(ctx: CheckContext, kh: KubeHandle, p: m.KafkaLagProbe) -> Observed:
    from commands.checks.kafka_lag import KafkaLagParams  # the kafka-lag rules, as they are
    from commands.checks.kafka_lag import kafka_lag as lag_check

    result = await lag_check(ctx, KafkaLagParams(group=p.group))
    findings = [f.model_copy(update={"probe": p.id, "suggestions": []}) for f in result.findings]
    worst = max((f.severity for f in findings), key=lambda s: s.rank, default=Severity.UNKNOWN)
    groups = result.data.get("groups") or []
    g = next((x for x in groups if isinstance(x, dict) and x.get("group") == p.group), {})
    lag = g.get("total_lag", "")
    worst_partition = g.get("max_lag_partition") or {}
    if isinstance(lag, int | float) and (p.warning is not None or p.critical is not None):
        worst_by_count = severity_of(float(lag), p)
        if worst_by_count.rank > worst.rank:
            findings.append(_finding(p, worst_by_count, f"{p.group}: lag {lag:g}", thresholds_text(p, " message(s)")))
    return Observed(
        findings,
        {"group": p.group, "topic": worst_partition.get("topic", ""), "lag": lag, "status": g.get("status", "")},
    )


async def usage(ctx: CheckContext, kh: KubeHandle, p: m.UsageProbe) -> Observed:
    ns = _ns(ctx, p)
    found = await kh.get().list_pods(ns, p.selector)
    if not found:
        return Observed(await no_pods(kh, ns, p.selector, p.selector))
    names = {x.metadata.name for x in found}
    limits = {
        (x.metadata.name, c.name): parse_quantity(
            str(((c.resources.limits or {}) if c.resources else {}).get(p.resource))
        )
        for x in found
        for c in x.spec.containers or []
        if c.resources and (c.resources.limits or {}).get(p.resource)
    }
    rows, worst, at = [], -1.0, ("", "")
    for pm in await kh.get().pod_metrics(ns):
        pod = pm.get("metadata", {}).get("name")
        if pod not in names:
            continue
        for c in pm.get("containers", []):
            limit = limits.get((pod, c.get("name")))
            used = c.get("usage", {}).get(p.resource)
            if not limit or used is None:
                continue
            ratio = parse_quantity(str(used)) / limit
            rows.append([pod, c.get("name", ""), f"{ratio:.0%}"])
            if ratio > worst:
                worst, at = ratio, (pod, c.get("name", ""))
    if not rows:
        text = f"{p.selector}: no {p.resource} figures with a limit (metrics-server, limits): nothing to judge"
        return Observed([_finding(p, Severity.UNKNOWN, text)])
    default = ctx.config.thresholds.memory_limit_warn_ratio
    sev = severity_of(worst, p, warning=default)
    text = f"{at[0]}/{at[1]} uses {worst:.0%} of its {p.resource} limit"
    return Observed(
        [
            _finding(
                p,
                sev,
                text,
                thresholds_text(p, "", warning=default),
                evidence=[Table(columns=["pod", "container", "of limit"], rows=rows)],
            )
        ],
        {
            "pod": at[0],
            "container": at[1],
            "ratio": round(worst, 3),
            "deployment": _app(p.selector) or "",
            "namespace": ns,
        },
    )


async def check(ctx: CheckContext, kh: KubeHandle, p: m.CheckProbe) -> Observed:
    from commands.registry import CHECKS
    from commands.report import Report

    spec = CHECKS.get(p.target)
    if spec is None:  # lint refuses it; a reload may have removed a target since
        return Observed([_finding(p, Severity.UNKNOWN, f"no check target `{p.target}`: nothing run")])
    result = await spec.func(ctx, spec.params.model_validate(p.options))
    report = Report(target=p.target, started_at=datetime.now(UTC), duration_s=0, findings=result.findings)
    findings = [f.model_copy(update={"probe": p.id}) for f in result.findings]
    return Observed(findings, {"severity": report.severity.value, "headline": report.headline})


RUNNERS: dict[str, Runner] = {
    "pods": pods,
    "logs": logs,
    "events": events,
    "http": http,
    "tcp": tcp,
    "endpoints": endpoints,
    "dns": dns,
    "sql": sql,
    "redis_info": redis_info,
    "redis_keys": redis_keys,
    "kafka_lag": kafka_lag,
    "usage": usage,
    "check": check,
}
