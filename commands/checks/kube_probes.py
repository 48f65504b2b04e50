"""Probe builders over Kubernetes: pods, Warning events, and a deployment's recent logs
(metric percentiles, grep), plus the suggestions and evidence they share.

Each returns an async function producing findings, ready for `commands.probes.run_probes`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from commands.backends.kube import Kube, KubeError
from commands.checks.logscan import PodLogs, at_least, deployment_logs, extract_ms, metric_pattern, percentiles
from commands.config import ChecksConfig
from commands.durations import format_duration
from commands.kube.facts import PodState, pod_state
from commands.patterns import compile_pattern
from commands.probes import SCALED_TO_ZERO, Probe
from commands.registry import CheckContext
from commands.report import Code, Fields, Finding, Severity, Suggestion, Table


class KubeHandle:
    """One Kubernetes client per check, created on first use (config errors become findings)."""

    def __init__(self, ctx: CheckContext) -> None:
        self.ctx = ctx
        self._kube: Kube | None = None
        self._logs: dict[tuple[str, str], PodLogs] = {}

    def get(self) -> Kube:
        if self._kube is None:
            self._kube = Kube(self.ctx.config.timeouts.probe_s)
        return self._kube

    async def logs(self, namespace: str, app: str) -> PodLogs:
        """A deployment's recent log lines, read once per check."""
        key = (namespace, app)
        if key not in self._logs:
            self._logs[key] = await deployment_logs(self.get(), namespace, app, self.ctx.config.logs)
        return self._logs[key]

    def close(self) -> None:
        if self._kube is not None:
            self._kube.close()

    def __enter__(self) -> KubeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def restart(deployment: str, why: str) -> Suggestion:
    return Suggestion(action="restart", params={"deployment": deployment}, why=why)


def samples(lines: list[str], n: int) -> list[Code]:
    shown = lines[-n:] if n else []
    return [Code(text="\n".join(line[:300] for line in shown))] if shown else []


def log_window(cfg: ChecksConfig) -> str:
    """The window a log scan covers, said the same way everywhere."""
    return f"last {cfg.logs.since_s // 60} min, at most {cfg.logs.tail_lines} lines per pod"


def scaled_to_zero(name: str, namespace: str) -> Finding:
    """A deployment whose desired replicas are 0: its own finding (nothing serves it), the same
    title wherever it is met so a report states it once."""
    return Finding(
        severity=Severity.CRITICAL,
        title=f"Deployment {name} {SCALED_TO_ZERO}: no pod serves it",
        detail=f"in {namespace}; if that was not deliberate, scale it back up",
        suggestions=[
            Suggestion(action="scale", params={"deployment": name, "namespace": namespace}, why="bring back its pods")
        ],
    )


async def no_pods(kh: KubeHandle, namespace: str | None, selector: str | None, label: str) -> list[Finding]:
    """Nothing matched: the deployment(s) scaled to 0 if that is why, else UNKNOWN saying what was looked for.

    With `app=X` the deployment X is read; with no selector, every deployment of the namespace."""
    zero: list[Finding] = []
    if namespace and (not selector or selector.startswith("app=")):
        app = selector.removeprefix("app=") if selector else None
        try:
            deps = (
                [await kh.get().get_deployment(namespace, app)] if app else await kh.get().list_deployments(namespace)
            )
        except KubeError:
            deps = []
        zero = [scaled_to_zero(d.metadata.name, namespace) for d in deps if d is not None and d.spec.replicas == 0]
    if zero:
        return zero
    return [
        Finding(
            severity=Severity.UNKNOWN,
            title=f"{label}: no pods found, nothing to judge",
            detail=f"looked for pods with selector {selector or '(all)'} in {namespace or 'all namespaces'}",
        )
    ]


# ---------------------------------------------------------------------- Kubernetes
def named(pods: list[PodState], most: int = 3) -> str:
    """The pods a headline is about, by name with their first reason: "user-service-7d9f (CrashLoopBackOff),
    auth-service-2 (+2 more)" — a lock screen shows which service, not only how many."""
    shown = [
        f"{p.name} ({p.reasons[0].split(': ', 1)[-1]})" if p.reasons else p.name
        for p in sorted(pods, key=lambda p: p.name)[:most]
    ]
    return ", ".join(shown) + (f" (+{len(pods) - most} more)" if len(pods) > most else "")


def pods_probe(
    kh: KubeHandle,
    namespace: str | None,
    selector: str | None,
    label: str,
    suggest: Callable[[], list[Suggestion]] = list,
) -> Probe:
    """Pods not Running/Ready, with reasons (CrashLoopBackOff, OOMKilled) and restarts."""

    async def probe() -> list[Finding]:
        pods = await kh.get().list_pods(namespace, selector)
        states = [pod_state(p, kh.ctx.config.thresholds.restart_window_s) for p in pods]
        bad = [s for s in states if not s.healthy]
        th = kh.ctx.config.thresholds
        restarts = [s for s in states if s.restarting(th.restarts_warn)]
        if not states:
            return await no_pods(kh, namespace, selector, label)
        evicted = [s for s in states if s.evicted is not None]
        history = [evicted_finding(label, evicted)] if evicted else []
        window = f"the last {format_duration(th.restart_window_s)}"
        if not bad and not restarts:
            live = len(states) - len(evicted)
            past = [s for s in states if s.restarts >= th.restarts_warn]
            note = (
                f" ({'; '.join(f'{s.name}: {s.restart_history()}' for s in past[:3])}"
                f"{f' and {len(past) - 3} more' if len(past) > 3 else ''}; none in {window}: history, not judged)"
                if past
                else ""
            )
            return [*history, Finding(severity=Severity.OK, title=f"{label}: {live} pod(s) running and ready{note}")]
        rows = [
            [s.namespace, s.name, s.phase, "yes" if s.ready else "no", str(s.restarts), ", ".join(s.reasons) or "-"]
            for s in sorted(bad + [r for r in restarts if r not in bad], key=lambda s: (s.namespace, s.name))
        ]
        severity = Severity.CRITICAL if bad else Severity.WARNING
        title = (
            f"{label}: {named(bad)} not running/ready ({len(bad)} of {len(states)} pods)"
            if bad
            else f"{label}: {named(restarts)} restarting "
            f"({'; '.join(s.restart_history() for s in restarts[:3])}; judged over {window})"
        )
        # A pod held in its init phase: the app container never ran, so restarting it runs the
        # same init container again; its log (and the previous run's) says what to fix.
        in_init = [s for s in bad if s.init_failed]
        init_logs = await init_container_logs(kh, in_init) if in_init else []
        only_init = bool(bad) and len(in_init) == len(bad)
        return [
            *history,
            Finding(
                severity=severity,
                title=title,
                detail=(
                    "in the init phase: init container(s) "
                    + ", ".join(sorted({c for s in in_init for c in s.init_failed}))
                    + " failed, so the app container never started; a restart runs the same init container "
                    "again: fix what its log says"
                )
                if in_init
                else "",
                evidence=[
                    Table(columns=["namespace", "pod", "phase", "ready", "restarts", "reasons"], rows=rows),
                    *init_logs,
                ],
                suggestions=[] if only_init else suggest(),
            ),
        ]

    return probe


def evicted_finding(label: str, evicted: list[PodState]) -> Finding:
    """Pods the kubelet evicted (node pressure), still listed: WARNING, with the kubelet's message
    (which resource ran short). Their controllers replaced them, so nothing is restarted; whether
    the replacements serve is the rest of the report's to say."""
    return Finding(
        severity=Severity.WARNING,
        title=f"{label}: {len(evicted)} pod(s) evicted: {named(evicted)}",
        detail="evicted by the kubelet under node pressure; the pods shown are history (delete them once read), "
        "their replacements are judged on their own",
        evidence=[
            Table(
                columns=["namespace", "pod", "kubelet's message"],
                rows=[[s.namespace, s.name, (s.evicted or "")[:200]] for s in sorted(evicted, key=lambda s: s.name)],
            )
        ],
    )


async def init_container_logs(kh: KubeHandle, pods: list[PodState], most: int = 3, tail: int = 10) -> list[Code]:
    """`kubectl logs <pod> -c <init>` and `--previous` of each failed init container (a few pods,
    the last `tail` lines each), labelled; a log that cannot be read says so in its place."""
    out: list[Code] = []
    for p in sorted(pods, key=lambda p: p.name)[:most]:
        for container in p.init_failed:
            for previous in (False, True):
                where = f"{p.name}/{container}" + (" (previous)" if previous else "")
                try:
                    text = await kh.get().pod_log(
                        p.namespace, p.name, tail, kh.ctx.config.logs.since_s, container, previous
                    )
                except KubeError as err:
                    text = "" if previous else f"(log could not be read: {err})"
                lines = text.splitlines()[-tail:]
                if lines:
                    out.append(Code(text="\n".join(f"[{where}] {line[:300]}" for line in lines)))
    return out


def warning_events_probe(kh: KubeHandle, namespace: str, limit: int = 10) -> Probe:
    """`kubectl get events --sort-by=.metadata.creationTimestamp`: Warning events, newest first."""

    async def probe() -> list[Finding]:
        events = [e for e in await kh.get().list_events(namespace) if e.type == "Warning"]
        if not events:
            return [Finding(severity=Severity.OK, title=f"No Warning events in {namespace}")]
        rows = [
            [
                str(e.last_timestamp or e.event_time or e.metadata.creation_timestamp or "-"),
                f"{e.involved_object.kind}/{e.involved_object.name}",
                e.reason or "-",
                str(e.count or 1),
                (e.message or "")[:120],
            ]
            for e in events[:limit]
        ]
        return [
            Finding(
                severity=Severity.WARNING,
                title=f"{len(events)} Warning event(s) in {namespace}",
                detail="newest first",
                evidence=[Table(columns=["last seen", "object", "reason", "count", "message"], rows=rows)],
            )
        ]

    return probe


def unreadable(app: str, logs: PodLogs) -> Finding:
    """The one finding for logs that could not be read, every log check alike: UNKNOWN, with why
    (the API server's answer, e.g. HTTP 500) in the title, per source in the detail."""
    first = next(iter(logs.errors.values()), "")
    more = f" (+{len(logs.errors) - 1} more)" if len(logs.errors) > 1 else ""
    return Finding(
        severity=Severity.UNKNOWN,
        title=f"{app}: logs could not be read: {first[:160]}{more}",
        detail="; ".join(f"{src}: {e}" for src, e in logs.errors.items()),
    )


def tagged_samples(tagged: list[tuple[str, str]], n: int) -> list[Code]:
    """Example lines, each prefixed with the pod/container it came from."""
    return samples([f"[{src}] {line}" for src, line in tagged], n)


TIMED_OUT = re.compile(r"\btimed?[ -]?out\b(?:\s+after\s+(\d+(?:\.\d+)?)\s*(ms|s)\b)?", re.I)


def timeouts_ms(lines: list[str], subject: str, default_ms: float, metric: str) -> list[tuple[float, str]]:
    """Lines about `subject` (a regex) that say they timed out and carry no `metric` field: each
    counts as one value at the time it names ("timed out after 5000ms"), else at `default_ms`."""
    about = compile_pattern(subject, ignore_case=True)  # RE2, like every pattern that is not ours alone
    out = []
    for line in lines:
        m = TIMED_OUT.search(line)
        if m and about.search(line) and not metric_pattern(metric).search(line):
            value = (
                float(m.group(1)) * (1000.0 if (m.group(2) or "").lower() == "s" else 1.0) if m.group(1) else default_ms
            )
            out.append((value, line))
    return out


# What a line that timed out without the metric is about, per metric: such a line counts as one
# value (a request that timed out after 30 s took at least 30 s; leaving it out would judge only
# the requests that finished).
TIMEOUT_SUBJECTS = {"response_time": r"request|response", "selection_time": r"select", "prediction_time": r"predict"}


def log_metric_probe(
    kh: KubeHandle,
    app: str,
    metric: str,
    warn_ms: float,
    crit_ms: float,
    suggest: Callable[[], list[Suggestion]] = list,
    timeout_subject: str | None = None,
) -> Probe:
    """p50/p95/max of `metric=…` values in a deployment's recent logs; lines about `timeout_subject`
    (default TIMEOUT_SUBJECTS[metric]) that timed out without the field count too (`timeouts_ms`)."""
    timeout_subject = timeout_subject or TIMEOUT_SUBJECTS.get(metric)

    async def probe() -> list[Finding]:
        namespace = kh.ctx.config.namespace
        logs = await kh.logs(namespace, app)
        if not logs.lines and not logs.errors:
            return await no_pods(kh, namespace, f"app={app}", app)
        if not logs.lines:
            return [unreadable(app, logs)]
        lines = logs.all_lines()
        values: list[tuple[float, str]] = []  # (ms, the line named by its pod/container)
        for src, src_lines in logs.lines.items():
            found = extract_ms(src_lines, metric)
            if timeout_subject:
                found += timeouts_ms(src_lines, timeout_subject, crit_ms, metric)
            values += [(v, f"[{src}] {line}") for v, line in found]
        stats = percentiles([v for v, _ in values])
        window = log_window(kh.ctx.config)
        if stats is None:
            read = f"read {len(lines)} line(s) from {len(logs.pods)} pod(s) ({window})"
            errors = "; ".join(f"{p}: {e}" for p, e in logs.errors.items())
            return [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"{app}: no {metric} values in recent logs, nothing to judge",
                    detail=f"{read}; {errors}" if errors else read,
                )
            ]
        severity = (
            Severity.CRITICAL if stats.p95 >= crit_ms else Severity.WARNING if stats.p95 >= warn_ms else Severity.OK
        )
        slowest = [line for _, line in sorted(values, key=lambda x: x[0])[-kh.ctx.config.logs.samples :]]
        return [
            Finding(
                severity=severity,
                title=f"{app} {metric}: p95 {stats.p95:.0f}ms (p50 {stats.p50:.0f}ms, max {stats.max:.0f}ms)",
                detail=f"{stats.count} value(s) over the {window}; thresholds: warning {warn_ms:.0f}ms, "
                f"critical {crit_ms:.0f}ms",
                evidence=[Fields(items=stats.fields()), *samples(slowest, kh.ctx.config.logs.samples)],
                suggestions=suggest() if severity is not Severity.OK else [],
            )
        ]

    return probe


def log_grep_probe(
    kh: KubeHandle,
    namespace: str,
    app: str,
    pattern: str,
    what: str,
    severity_if_found: Severity = Severity.WARNING,
    suggest: Callable[[list[str]], list[Suggestion]] = lambda _: [],
    level: str | None = "warn",
    judge: Callable[[list[str], int], tuple[Severity, str, list[Suggestion]]] | None = None,
) -> Probe:
    """Lines of a deployment's recent logs matching `pattern` (grep -iE) at `level` or above
    (commands.checks.logscan.at_least: "gc … memory ok" at INFO is not a memory problem; None: any level).

    `judge(hits, lines read)` -> (severity, a note for the title, suggestions) judges the hits as a
    rate instead of "any hit is `severity_if_found`" (e.g. `security`: failed logins per address)."""

    async def probe() -> list[Finding]:
        logs = await kh.logs(namespace, app)
        window = log_window(kh.ctx.config)
        if not logs.lines and logs.errors:
            return [unreadable(app, logs)]
        if not logs.lines:
            return await no_pods(kh, namespace, f"app={app}", app)
        lines = logs.all_lines()
        if not lines:
            return [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"{app}: 0 log lines from {len(logs.pods)} pod(s), nothing to judge",
                    detail=f"looked for {what} over the {window}",
                )
            ]
        rx = compile_pattern(pattern, ignore_case=True)  # RE2: a runbook file may supply it
        hits = [(src, line) for src, line in logs.tagged() if rx.search(line) and at_least([line], level)]
        scope = f" at {level.upper()} or above" if level else ""
        if not hits:
            return [
                Finding(
                    severity=Severity.OK,
                    title=f"{app}: no {what}{scope} in {len(lines)} log line(s)",
                    detail=f"{len(lines)} line(s) from {len(logs.pods)} pod(s) searched ({window})",
                )
            ]
        sources = sorted({src for src, _ in hits})
        matched = [line for _, line in hits]
        severity, note, suggestions = judge(matched, len(lines)) if judge else (severity_if_found, "", suggest(matched))
        return [
            Finding(
                severity=severity,
                title=f"{app}: {len(hits)} {what} in {len(lines)} log line(s){note}",
                detail=f"{len(logs.pods)} pod(s), {window}; from {', '.join(sources[:5])}"
                + (f" and {len(sources) - 5} more" if len(sources) > 5 else ""),
                evidence=tagged_samples(hits, kh.ctx.config.logs.samples),
                suggestions=suggestions if severity is not Severity.OK else [],
            )
        ]

    return probe
