"""`alp logs <service>`: the runbook's Log Analysis (`kubectl logs -l app=X --tail=N | grep -i
error`), for every pod at once, with similar lines grouped into templates.

Every container of every pod labelled `app=<service>` (in the platform's namespace, else the
infrastructure namespace) is read concurrently, each call bounded by the probe timeout, at most
`--tail` lines each over `--since`, and at most `logs.max_lines` in all (each container's tail
is lowered before reading, saying so). Lines are masked (`commands.masking.redact`) before anything
else, filtered by `--grep` (RE2: linear time whatever the pattern), then grouped with Drain
(the `drain3` package): each template gets its count, first and last seen, the worst level in
it and one example; worst, then most frequent, first. All lines kept go out too
(`data.raw_lines`; a file in Slack). The masking, filtering and grouping run off the event
loop (`commands.logs.groups.digest`) and stop at the check's deadline, newest lines first,
saying how many lines were examined.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from commands.backends.kube import Kube, KubeError
from commands.durations import Duration, format_duration
from commands.logs.groups import MAX_LINE_CHARS, Digest, digest, level_of  # noqa: F401  (level_of: the level rule, tested)
from commands.patterns import PatternError, compile_pattern
from commands.registry import FIRST_STEPS, CheckContext, CheckResult, check, closest
from commands.report import Code, Finding, Severity, Table
from commands.runtime.cpu import Cutoff, off_process

SHOWN_TEMPLATES = 25  # in the message; all of them are in data.templates and the raw file


class LogsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63, description="the service (pods labelled app=NAME)"
    )
    grep: str | None = Field(
        None, max_length=500, description="only lines matching this regex (RE2 syntax, case-insensitive)"
    )
    since: Duration | None = Field(None, description="how far back: 30m, 1h (default: the logs.since_s setting)")
    tail: int | None = Field(None, ge=1, le=10_000, description="lines per container (default: logs.tail_lines)")
    previous: bool = Field(False, description="read the previous container of restarted pods (crash loops)")

    @field_validator("tail", mode="before")
    @classmethod
    def _a_number(cls, value: object) -> object:
        if isinstance(value, bool):  # `--tail` with no number after it
            raise ValueError("needs a number of lines, e.g. --tail 100")
        return value

    @field_validator("grep")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_pattern(value, ignore_case=True)
            except PatternError as err:
                raise ValueError(f"not a regular expression RE2 runs: {err}") from None
        return value


@dataclass
class Read:
    namespace: str = ""
    pods: list[str] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)  # (pod/container, raw log text)
    errors: dict[str, str] = field(default_factory=dict)  # pod/container -> why
    notes: list[str] = field(default_factory=list)
    read: int = 0  # containers whose logs were read
    apps: set[str] = field(default_factory=set)  # app labels seen, when no pod had the service's


async def read_logs(kube: Kube, namespaces: list[str], p: LogsParams, tail: int, since_s: int, max_lines: int) -> Read:
    """Every container of every pod labelled app=<service>, concurrently: raw text, at most
    `tail` lines each and `max_lines` in all (the tail is lowered to fit, with a note)."""
    out = Read()
    pods: list[Any] = []
    for ns in namespaces:
        pods = await kube.list_pods(ns, f"app={p.service}")
        if pods:
            out.namespace = ns
            break
    if not pods:  # a typo? the app labels there are (a hint only: a refusal changes nothing)
        for ns in namespaces:
            try:
                out.apps |= {(q.metadata.labels or {}).get("app", "") for q in await kube.list_pods(ns, "app")} - {""}
            except KubeError:
                pass

    async def one(pod: Any, container: str, tail: int) -> None:
        source = f"{pod.metadata.name}/{container}"
        try:
            text = await kube.pod_log(
                out.namespace, pod.metadata.name, tail, since_s, container, previous=p.previous, timestamps=True
            )
        except KubeError as err:
            out.errors[source] = str(err)
            return
        out.read += 1
        if text.count("\n") + (not text.endswith("\n") and bool(text)) >= tail:
            out.notes.append(f"{source}: the tail limit ({tail} lines) was reached; older lines were not read")
        out.texts.append((source, text))

    jobs = []
    for pod in pods:
        name = pod.metadata.name
        if not pod.spec.node_name or pod.metadata.deletion_timestamp:
            out.notes.append(f"{name}: {'not on a node yet' if not pod.spec.node_name else 'terminating'}, no logs")
            continue
        out.pods.append(name)
        restarts = {s.name: s.restart_count or 0 for s in (pod.status.container_statuses or [])}
        for c in pod.spec.containers:
            if p.previous and not restarts.get(c.name):
                out.notes.append(f"{name}/{c.name}: never restarted, no previous container")
                continue
            jobs.append((pod, c.name))
    each = min(tail, max(1, max_lines // max(1, len(jobs))))
    if each < tail:
        out.notes.append(
            f"{len(jobs)} containers: at most {each} lines read from each (logs.max_lines: {max_lines} in all)"
        )
    await asyncio.gather(*(one(pod, name, each) for pod, name in jobs))
    out.texts.sort()  # the same order whichever answered first
    return out


def _digest_notes(d: Digest) -> list[str]:
    cut = f"{d.cut} line(s) longer than {MAX_LINE_CHARS} characters were cut there (marked)"
    return [cut] if d.cut else []


def _window(p: LogsParams, tail: int, since_s: int) -> str:
    parts = [f"last {format_duration(since_s)}", f"at most {tail} lines per container"]
    if p.grep:
        parts.append(f"lines matching {p.grep!r}")
    if p.previous:
        parts.append("previous containers (before their last restart)")
    return ", ".join(parts)


@check(
    "logs",
    summary="a service's log lines from every pod, grouped into templates",
    runbook="Log Analysis: kubectl logs -l app=X --tail=N | grep -i error",
    params=LogsParams,
    registry=FIRST_STEPS,
)
async def logs(ctx: CheckContext, p: LogsParams) -> CheckResult:
    cfg = ctx.config
    tail, since_s = p.tail or cfg.logs.tail_lines, p.since or cfg.logs.since_s
    namespaces = list(dict.fromkeys((cfg.namespace, cfg.platform.infra_namespace)))
    window = _window(p, tail, since_s)
    try:
        kube = Kube(cfg.timeouts.probe_s)
    except KubeError as err:
        return CheckResult([Finding(severity=Severity.UNKNOWN, title=f"{p.service}: logs not read", detail=str(err))])
    try:
        r = await read_logs(kube, namespaces, p, tail, since_s, cfg.logs.max_lines)
    except KubeError as err:
        return CheckResult([Finding(severity=Severity.UNKNOWN, title=f"{p.service}: pods not listed", detail=str(err))])
    finally:
        kube.close()
    data: dict[str, Any] = {"service": p.service, "namespace": r.namespace, "pods": r.pods, "window": window}
    data |= {"templates": [], "unreadable": r.errors, "notes": r.notes, "raw_lines": []}
    if not r.pods:
        why = f"no running pod labelled app={p.service} in {' or '.join(namespaces)}"
        close = closest(p.service, sorted(r.apps))
        why += f". Did you mean {' or '.join(close)}?" if close else ""
        return CheckResult(
            [
                Finding(
                    severity=Severity.UNKNOWN, title=f"{p.service}: no logs to read", detail="; ".join([why, *r.notes])
                )
            ],
            data,
        )
    stop = Cutoff.before_deadline()
    d: Digest = await off_process(digest, r.texts, p.grep, stop)
    notes = r.notes + _digest_notes(d)
    groups, lines = d.groups, d.lines
    findings: list[Finding] = []
    if d.stopped:
        findings.append(
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{p.service}: {d.total - d.examined} older line(s) of {d.total} not examined: "
                "the check's time limit came first",
                detail=f"the newest {d.examined} line(s) were masked, filtered and grouped below; "
                "ask for less (--since, --tail, --grep) to see the rest",
                probe="logs",
            )
        )
    if r.errors:
        findings.append(
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{p.service}: logs of {len(r.errors)} container(s) could not be read",
                evidence=[Table(columns=["container", "why"], rows=[[k, v] for k, v in sorted(r.errors.items())])],
                probe="logs",
            )
        )
    sources = sorted({s for s, _, _ in lines})
    bad = [g for _, g in groups if g.level in ("error", "fatal")]
    if groups:
        shown = groups[:SHOWN_TEMPLATES]
        rows = [
            [str(i), str(g.count), g.level, g.first or "-", g.last or "-", template]
            for i, (template, g) in enumerate(shown, 1)
        ]
        evidence: list[Any] = [
            Table(columns=["#", "count", "level", "first seen", "last seen", "template"], rows=rows),
            Code(text="\n".join(f"[{i}] {g.example}" for i, (_, g) in enumerate(shown, 1))),
        ]
        more = f"; {len(groups) - len(shown)} more template(s) in the raw lines" if len(groups) > len(shown) else ""
        findings.append(
            Finding(
                severity=Severity.WARNING if bad else Severity.OK,
                title=f"{p.service}: {len(lines)} line(s) from {len(sources)} container(s) in {len(groups)} "
                f"template(s)" + (f", {sum(g.count for g in bad)} error line(s) in {len(bad)} of them" if bad else ""),
                detail=f"{window}; worst first, then most frequent; one example each{more}"
                + ("; " + "; ".join(notes) if notes else ""),
                evidence=evidence,
                probe="logs",
            )
        )
    elif r.read:
        findings.append(
            Finding(
                severity=Severity.OK,
                title=f"{p.service}: no log lines" + (" match" if p.grep else "") + f" in the {window}",
                detail="; ".join(notes),
                probe="logs",
            )
        )
    elif not r.errors:  # e.g. --previous and no container ever restarted: nothing was read
        findings.append(
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{p.service}: no container logs to read",
                detail="; ".join(notes),
                probe="logs",
            )
        )
    data["templates"] = [
        {
            "template": t,
            "count": g.count,
            "level": g.level,
            "first_seen": g.first or None,
            "last_seen": g.last or None,
            "example": g.example,
            "pods": sorted(g.sources),
        }
        for t, g in groups
    ]
    data["unreadable"] = r.errors
    data["notes"] = notes
    data["lines_read"], data["lines_examined"] = d.total, d.examined
    data["raw_lines"] = [" ".join(x for x in (s, w, t) if x) for s, w, t in lines]
    return CheckResult(findings, data)
