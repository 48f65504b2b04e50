"""Probes over the Kubernetes API: pods, log lines (every container), Warning events, endpoints, usage."""

from __future__ import annotations

import asyncio

import re2

from commands.checks.kube_probes import KubeHandle, log_window, no_pods, samples
from commands.checks.logscan import extract_ms, selector_logs
from commands.durations import format_duration
from commands.kube.facts import parse_quantity, pod_state
from commands.log_levels import LEVELS, line_level
from commands.registry import CheckContext
from commands.report import Fields, Severity, Table
from commands.runbook import model as m
from commands.runbook.judge import Observed, severity_of, thresholds_text
from commands.runbook.probes.base import _app, _finding, _ns


async def pods(ctx: CheckContext, kh: KubeHandle, p: m.PodsProbe) -> Observed:
    ns = _ns(ctx, p)
    found = await kh.get().list_pods(ns, p.selector)
    if not found:
        return Observed(await no_pods(kh, ns, p.selector, p.selector))
    states = [pod_state(x, ctx.config.thresholds.restart_window_s) for x in found]
    rt = ctx.config.thresholds.restarts_warn
    if p.measure == "not_ready":
        bad = [s for s in states if not s.healthy]
    elif p.measure == "restarts":
        bad = [s for s in states if s.restarting(rt)]
    else:
        bad = [s for s in states if s.oom_killed]
    words = {
        "not_ready": "not running/ready",
        "restarts": f"restarted {rt}+ times, the last within {format_duration(ctx.config.thresholds.restart_window_s)}",
        "oom_killed": "OOMKilled",
    }
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
    """Recent lines of every container of every live pod matching `selector` (the checks' own
    reader, logscan.selector_logs: previous instances and failed init containers too), what
    could not be read, and how many pods matched."""
    logs = await selector_logs(kh.get(), ns, selector, ctx.config.logs)
    return logs.lines, logs.errors, logs.matched


def _match(lines: list[str], pattern: str, levels: list[str]) -> list[str]:
    """Lines matching an RE2 pattern (case-insensitive), at one of `levels` when given: a line's
    level (logscan.line_level: its JSON level field, else its first level word) decides, not a
    word anywhere in it ("INFO retried, no ERROR" is not an ERROR line; `levels: [ERROR]` also
    takes its synonyms, ERR and SEVERE, and `FATAL` takes panic and critical)."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    rx = re2.compile(pattern, options)
    ranks = {LEVELS[lv.lower()] for lv in levels if lv.lower() in LEVELS}
    return [ln for ln in lines if rx.search(ln) and (not levels or line_level(ln) in ranks)]


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
