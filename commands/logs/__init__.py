"""`alp logs <service>`: the runbook's Log Analysis (`kubectl logs -l app=X --tail=N | grep -i
error`), for every pod at once, with similar lines grouped into templates.

Every container of every pod labelled `app=<service>` (in the platform's namespace, else the
infrastructure namespace) is read concurrently, each call bounded by the probe timeout, at most
`--tail` lines each over `--since`. Lines are masked (`commands.redact`) before anything else,
filtered by `--grep`, then grouped with Drain (the `drain3` package): each template gets its
count, first and last seen, the worst level in it and one example; worst, then most frequent,
first. All lines read go out too (`data.raw_lines`; a file in Slack).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, ConfigDict, Field, field_validator

from commands.backends.kube import Kube, KubeError
from commands.durations import Duration, format_duration
from commands.redact import redact
from commands.registry import STEPS, CheckContext, CheckResult, check, closest
from commands.report import Code, Finding, Severity, Table

SHOWN_TEMPLATES = 25  # in the message; all of them are in data.templates and the raw file
LEVELS = ("other", "info", "warning", "error", "fatal")
_LEVEL_WORDS = (
    ("fatal", re.compile(r"(?i)\b(fatal|panic|critical|crit|emerg)\b")),
    ("error", re.compile(r"(?i)\b(error|err|exception|traceback|failed|failure)\b")),
    ("warning", re.compile(r"(?i)\b(warn|warning)\b")),
    ("info", re.compile(r"(?i)\b(info|debug|trace|notice)\b")),
)
# A line's own level: a `level=`/`"level":` field, or the first word after an optional timestamp.
_LEVEL_FIELD = re.compile(r"""(?i)["']?\b(?:level|lvl|severity|loglevel)["']?\s*[=:]\s*["']?([a-z]+)""")
_LEADING_LEVEL = re.compile(
    r"(?i)^\s*(?:\S*\d\d:\d\d\S*\s+)?[\[(]?(fatal|panic|critical|crit|emerg|error|err|warn|warning|info|debug|trace|notice)\b"
)
_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d) ")
# What varies between lines of one template: masked so Drain groups them (drain3's own mechanism).
_MASKS = (
    (r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?", "TIME"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{16,}\b", "HEX"),
    (r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:ms|s|us|µs|m|h|%|[KMG]i?B?)?(?![\w.])", "NUM"),
)


class LogsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63, description="the service (pods labelled app=NAME)"
    )
    grep: str | None = Field(None, max_length=500, description="only lines matching this regex (case-insensitive)")
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
                re.compile(value)
            except re.error as err:
                raise ValueError(f"not a regular expression: {err}") from None
        return value


@dataclass
class Group:
    """One template: how often, when, how bad, one example."""

    count: int = 0
    level: str = "other"
    first: str = ""
    last: str = ""
    example: str = ""
    sources: set[str] = field(default_factory=set)


def level_of(text: str) -> str:
    """The line's own level where it states one (`WARN …`, `level=info`, `"level":"error"`),
    else the worst level word in it (`… failed`, `panic: …`)."""
    stated = _LEVEL_FIELD.search(text) or _LEADING_LEVEL.search(text)
    if stated:
        for level, rx in _LEVEL_WORDS:
            if rx.fullmatch(stated[1]):
                return level
    for level, rx in _LEVEL_WORDS:
        if rx.search(text):
            return level
    return "other"


def split_timestamp(line: str) -> tuple[str, str]:
    """`2026-11-29T19:04:21.123456789Z msg` (kubelet `timestamps=true`) -> (`2026-11-29T19:04:21Z`, msg)."""
    m = _TIMESTAMP.match(line)
    if not m:
        return "", line
    try:
        when = datetime.fromisoformat(m[1] + m[3].replace("Z", "+00:00"))
    except ValueError:
        return "", line
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if m[3] == "Z" else when.isoformat(), line[m.end() :]


def miner() -> TemplateMiner:
    cfg = TemplateMinerConfig()
    cfg.masking_instructions = [MaskingInstruction(rx, name) for rx, name in _MASKS]
    cfg.parametrize_numeric_tokens = True
    return TemplateMiner(config=cfg)


def group_lines(lines: list[tuple[str, str, str]]) -> list[tuple[str, Group]]:
    """(source, time, text) lines -> (template, group), worst level first, then most frequent."""
    tm = miner()
    groups: dict[int, Group] = {}
    for source, when, text in lines:
        cid = tm.add_log_message(text)["cluster_id"]
        g = groups.setdefault(cid, Group(example=text))
        g.count += 1
        g.sources.add(source.split("/")[0])
        level = level_of(text)
        if LEVELS.index(level) > LEVELS.index(g.level):
            g.level = level
        if when:
            g.first = min(g.first or when, when)
            g.last = max(g.last, when)
    templates = {c.cluster_id: c.get_template() for c in tm.drain.clusters}
    ordered = sorted(groups.items(), key=lambda kv: (-LEVELS.index(kv[1].level), -kv[1].count))
    return [(templates.get(cid, g.example), g) for cid, g in ordered]


@dataclass
class Read:
    namespace: str = ""
    pods: list[str] = field(default_factory=list)
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (pod/container, time, masked text)
    errors: dict[str, str] = field(default_factory=dict)  # pod/container -> why
    notes: list[str] = field(default_factory=list)
    read: int = 0  # containers whose logs were read
    apps: set[str] = field(default_factory=set)  # app labels seen, when no pod had the service's


async def read_logs(kube: Kube, namespaces: list[str], p: LogsParams, tail: int, since_s: int) -> Read:
    """Every container of every pod labelled app=<service>, concurrently; masked lines."""
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
    grep = re.compile(p.grep, re.I) if p.grep else None

    async def one(pod: Any, container: str) -> None:
        source = f"{pod.metadata.name}/{container}"
        try:
            text = await kube.pod_log(
                out.namespace, pod.metadata.name, tail, since_s, container, previous=p.previous, timestamps=True
            )
        except KubeError as err:
            out.errors[source] = str(err)
            return
        out.read += 1
        raw = text.splitlines()
        if len(raw) >= tail:
            out.notes.append(f"{source}: the tail limit ({tail} lines) was reached; older lines were not read")
        for line in raw:
            when, msg = split_timestamp(line)
            msg = redact(msg)
            if grep is None or grep.search(msg):
                out.lines.append((source, when, msg))

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
            jobs.append(one(pod, c.name))
    await asyncio.gather(*jobs)
    out.lines.sort(key=lambda x: x[1])  # by time where the kubelet gave it; stable otherwise
    return out


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
    registry=STEPS,
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
        r = await read_logs(kube, namespaces, p, tail, since_s)
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
    findings: list[Finding] = []
    if r.errors:
        findings.append(
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{p.service}: logs of {len(r.errors)} container(s) could not be read",
                evidence=[Table(columns=["container", "why"], rows=[[k, v] for k, v in sorted(r.errors.items())])],
                probe="logs",
            )
        )
    groups = group_lines(r.lines)
    sources = sorted({s for s, _, _ in r.lines})
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
                title=f"{p.service}: {len(r.lines)} line(s) from {len(sources)} container(s) in {len(groups)} "
                f"template(s)" + (f", {sum(g.count for g in bad)} error line(s) in {len(bad)} of them" if bad else ""),
                detail=f"{window}; worst first, then most frequent; one example each{more}"
                + ("; " + "; ".join(r.notes) if r.notes else ""),
                evidence=evidence,
                probe="logs",
            )
        )
    elif r.read:
        findings.append(
            Finding(
                severity=Severity.OK,
                title=f"{p.service}: no log lines" + (" match" if p.grep else "") + f" in the {window}",
                detail="; ".join(r.notes),
                probe="logs",
            )
        )
    elif not r.errors:  # e.g. --previous and no container ever restarted: nothing was read
        findings.append(
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{p.service}: no container logs to read",
                detail="; ".join(r.notes),
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
    data["notes"] = r.notes
    data["raw_lines"] = [" ".join(x for x in (s, w, t) if x) for s, w, t in r.lines]
    return CheckResult(findings, data)
