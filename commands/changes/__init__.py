"""`alp changes`: what changed recently (the runbook's "Review recent deployments or changes").

Rollouts of Deployments and StatefulSets, writes to the runbook's configmaps, scale changes
and alp's own remediations, newest first, one line each, with the reach of each source
stated: Kubernetes keeps limited history and says nothing about values it replaced.

Also the one-line "changes in the last hour" that `health` and every critical report carry,
and the lines an incident's page and postmortem carry (`incident_change_lines`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from commands.config import ChecksConfig
from commands.durations import Duration, ago, format_duration
from commands.registry import (
    FIRST_STEPS,
    AuditReader,
    CheckContext,
    CheckResult,
    CheckSpec,
    check,
    closest,
    report_hook,
)
from commands.report import Finding, Severity, Table, Text

if TYPE_CHECKING:
    from commands.changes.sources import Change, Gathered

log = logging.getLogger(__name__)

RECENT_S = 3600  # what `health`, critical reports and incidents call "recent"


class ChangesParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Duration = Field("6h", validate_default=True, description="how far back: 30m, 6h, 2d")
    service: str | None = Field(None, description="only this service's deployment, configmap and actions")


def _matches(obj: str, service: str) -> bool:
    """`deployment/user-service`, `configmap/user-service-config` belong to `user-service`;
    `configmap/auth-config` to `auth-service`."""
    base = service.removesuffix("-service")
    name = obj.split("/", 1)[-1]
    return name == service or name.startswith(f"{base}-") or name == base


async def gather(
    config: ChecksConfig, since: datetime, service: str | None = None, audit_reader: AuditReader | None = None
) -> Gathered:
    """Every source read concurrently (alp's audit log through `audit_reader`); what could not be
    read is in `errors`, never hidden. The sources (and the Kubernetes client) are imported here,
    when a report first needs them: a terminal run whose report is fine never loads them."""
    from commands.backends.kube import Kube, KubeError
    from commands.changes.audit import audit_changes, merge_alp, read_audit, recency
    from commands.changes.sources import Gathered, configmap_changes, workload_changes

    out = Gathered()
    alp: list[Change] = []

    async def audit() -> None:
        state_url = getattr(config, "state_url", None)
        if not state_url:
            out.seen["alp's audit log"] = "not configured (no state store): alp's own actions not shown"
            return
        try:
            rows, requests, reach = await read_audit(audit_reader, state_url, since)
        except Exception as err:  # the store is down or unreadable: say so
            out.errors["alp's audit log"] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
            return
        alp.extend(audit_changes(rows, requests, since))
        out.seen["alp's audit log"] = reach

    try:
        kube: Kube | None = Kube(config.timeouts.probe_s)
    except KubeError as err:
        kube = None
        out.errors["Kubernetes"] = str(err)
    try:
        jobs = [audit()]
        if kube is not None:
            for ns in dict.fromkeys((config.namespace, config.platform.infra_namespace)):
                jobs.append(workload_changes(kube, ns, since, out, with_events=ns == config.namespace))
            configmaps = [(config.namespace, name) for name in config.actions.configmaps]
            configmaps.append((config.actions.kong_namespace, config.actions.kong_configmap))
            jobs += [configmap_changes(kube, ns, name, since, out) for ns, name in configmaps]
        await asyncio.gather(*jobs)
    finally:
        if kube is not None:
            kube.close()
    changes = merge_alp(out.changes, alp)
    out.objects |= {c.object for c in changes}
    if service:
        changes = [c for c in changes if _matches(c.object, service)]
        out.flagged = [f for f in out.flagged if _matches(f[0], service)]
    out.changes = sorted(changes, key=recency, reverse=True)
    return out


def _when(c: Change, now: datetime) -> str:
    return f"{c.at:%m-%d %H:%M}Z ({ago((now - c.at).total_seconds())})"


def _seen(g: Gathered) -> str:
    parts = [f"{src}: {reach}" for src, reach in sorted(g.seen.items())]
    return (
        "What could be seen: "
        + "; ".join(parts)
        + (
            ". Rollout times are when their ReplicaSet/revision was created; for a rollback to an earlier"
            " template (Kubernetes re-uses its old ReplicaSet/revision), when the template was written back."
        )
    )


@check(
    "changes",
    summary="what changed recently: rollouts, the runbook's configmaps, scaling, alp's own actions",
    runbook="General Troubleshooting Approach: Review recent deployments or changes",
    params=ChangesParams,
    registry=FIRST_STEPS,
)
async def changes(ctx: CheckContext, p: ChangesParams) -> CheckResult:
    now = datetime.now(UTC)
    since = now - timedelta(seconds=p.since)
    g = await gather(ctx.config, since, p.service, ctx.audit_reader)
    window = f"last {format_duration(p.since)} (since {since:%Y-%m-%d %H:%M}Z)"
    scope = f" of {p.service}" if p.service else ""
    findings = [
        Finding(severity=Severity.WARNING, title=f"{obj}: rollout {state}", detail=why, probe="rollouts")
        for obj, state, why in g.flagged
    ]
    by_cause: dict[str, tuple[str, list[str]]] = {}
    for src, why in g.errors.items():  # one finding per cause: a down API server is one finding
        by_cause.setdefault(why.split(": ", 1)[0], (why, []))[1].append(src)
    findings += [
        Finding(severity=Severity.UNKNOWN, title=f"Could not read {', '.join(srcs)}", detail=why, probe="changes")
        for why, srcs in by_cause.values()
    ]
    seen = Text(text=_seen(g))
    if p.service and not g.errors and not any(_matches(o, p.service) for o in g.objects):
        names = sorted({o.split("/", 1)[-1] for o in g.objects if not o.startswith("configmap/")})
        close = closest(p.service, names)
        findings.append(
            Finding(
                severity=Severity.WARNING,
                title=f"No workload or runbook configmap of {p.service}",
                detail=f"Known workloads: {', '.join(names) or 'none'}."
                + (f" Did you mean {' or '.join(close)}?" if close else ""),
                probe="changes",
            )
        )
    elif g.changes:
        rows = [[_when(c, now), c.kind, c.summary, c.by or "-"] for c in g.changes]
        findings.append(
            Finding(
                severity=Severity.OK,
                title=f"{len(g.changes)} change(s){scope} in the {window}, newest first",
                evidence=[Table(columns=["when", "kind", "change", "by"], rows=rows), seen],
            )
        )
    else:
        where = " in what could be read" if g.errors else ""
        title = f"No changes{scope} seen{where} in the {window}"
        findings.append(Finding(severity=Severity.OK, title=title, evidence=[seen]))
    data = {
        "since": since.isoformat(),
        "until": now.isoformat(),
        "changes": [c.model_dump(mode="json") for c in g.changes],
        "rollouts": [{"object": o, "state": s, "why": w} for o, s, w in g.flagged],
        "seen": g.seen,
        "unreadable": g.errors,
    }
    return CheckResult(findings, data)


def real(changes: list[Change], services: list[str] | None = None) -> list[Change]:
    """The changes a context line is about: no creations (a workload's first revision is not a
    rollout of anything), and only those of `services` when given (an incident's affected services)."""
    kept = [
        c
        for c in changes
        if not (c.kind == "rollout" and c.before is None and str((c.after or {}).get("revision")) == "1")
    ]
    if services:
        kept = [c for c in kept if any(_matches(c.object, s) for s in services)]
    return kept


def one_line(g: Gathered, now: datetime, window: str = "the last hour", most: int = 3) -> str:
    """`2 changes in the last hour: user-service image app:1.4.2 -> 1.5.0 12 min ago, …` (real ones)."""
    changes = real(g.changes)
    n = len(changes)
    if n:
        shown = ", ".join(f"{c.summary} {ago((now - c.at).total_seconds())}" for c in changes[:most])
        text = f"{n} change(s) in {window}: {shown}" + (f", and {n - most} more (see changes)" if n > most else "")
    else:
        text = f"No changes seen in {window} (rollouts, the runbook's configmaps, scaling, alp's actions)"
    if g.errors:
        text += f" (could not read {len(g.errors)} source(s): {next(iter(g.errors.values()))})"
    return text


@report_hook("recent changes on every critical report")
async def recent_changes_on_critical(spec: CheckSpec, ctx: CheckContext, findings: list[Finding]) -> list[Finding]:
    """ "What changed?" is the first question of an incident: `health` and every report with a
    CRITICAL finding end with the last hour's changes (`recent_changes_finding`)."""
    if spec.name == "health" or any(f.severity is Severity.CRITICAL for f in findings):
        return [await recent_changes_finding(ctx.config, ctx.audit_reader)]
    return []


async def recent_changes_finding(config: ChecksConfig, audit_reader: AuditReader | None = None) -> Finding:
    """The one line `health` and every critical report carry: changes in the last hour. OK when
    every source was read or some change was seen; UNKNOWN when "no changes" rests on sources that
    could not be read (a down Kubernetes API is not an hour without changes)."""
    now = datetime.now(UTC)
    limit = config.timeouts.probe_s * 2
    severity = Severity.UNKNOWN
    try:
        g = await asyncio.wait_for(gather(config, now - timedelta(seconds=RECENT_S), None, audit_reader), limit)
        title = one_line(g, now)
        if g.changes or not g.errors:
            severity = Severity.OK
    except TimeoutError:
        title = f"Changes in the last hour: not read within {limit:g}s"
    except Exception as err:  # a context line must never sink the report it joins
        log.exception("recent changes")
        title = f"Changes in the last hour: could not be read ({type(err).__name__})"
    return Finding(severity=severity, title=title, probe="changes")


PAGE_WAIT_S = 2.0  # a page waits at most this long for its changes (the API may be what is down)


async def incident_change_lines(
    config: ChecksConfig,
    opened_at: datetime,
    most: int = 20,
    audit_reader: AuditReader | None = None,
    services: list[str] | None = None,
) -> list[str]:
    """Real changes (`real`) of the incident's `services` (all when none are set) from one hour
    before it opened until now, newest first, one line each (for its page and postmortem); those
    after it opened say so. Sources that could not be read are named in a last line."""
    limit = min(config.timeouts.probe_s, PAGE_WAIT_S)
    try:
        g = await asyncio.wait_for(gather(config, opened_at - timedelta(seconds=RECENT_S), None, audit_reader), limit)
    except TimeoutError:
        return [f"changes not read within {limit:g}s"]
    except Exception as err:
        return [f"changes could not be read ({type(err).__name__})"]
    changes = real(g.changes, services)
    lines = [
        f"{c.at:%H:%M:%S}Z {c.summary}" + c.who() + (" (after it opened)" if c.at > opened_at else "")
        for c in changes[:most]
    ]
    if len(changes) > most:
        lines.append(f"… and {len(changes) - most} more (alp changes)")
    if g.errors:
        lines.append(f"could not read {len(g.errors)} source(s): {next(iter(g.errors.values()))}")
    return lines or ["no changes seen since one hour before it opened"]


async def change_lines_between(
    config: ChecksConfig,
    since: datetime,
    until: datetime,
    most: int = 15,
    audit_reader: AuditReader | None = None,
) -> list[str]:
    """Real changes (`real`) from `since` to `until`, newest first, one line each (a handoff
    report's "changes of the last shift"); sources that could not be read are named in a last line."""
    limit = config.timeouts.probe_s * 2
    try:
        g = await asyncio.wait_for(gather(config, since, None, audit_reader), limit)
    except TimeoutError:
        return [f"changes not read within {limit:g}s"]
    except Exception as err:
        return [f"changes could not be read ({type(err).__name__})"]
    changes = [c for c in real(g.changes) if c.at <= until]
    lines = [f"{c.at:%m-%d %H:%M}Z {c.summary}{c.who()}" for c in changes[:most]]
    if len(changes) > most:
        lines.append(
            f"… and {len(changes) - most} more (alp changes --since {format_duration((until - since).total_seconds())})"
        )
    if g.errors:
        lines.append(f"could not read {len(g.errors)} source(s): {next(iter(g.errors.values()))}")
    return lines


def incident_changes_hook(
    config: ChecksConfig, audit_reader: AuditReader | None = None
) -> Callable[[Any], Awaitable[list[str]]]:
    """The escalator's `recent_changes`: an incident (with `opened_at`) -> its change lines."""

    async def lines(inc: Any) -> list[str]:
        return await incident_change_lines(
            config, inc.opened_at, audit_reader=audit_reader, services=list(inc.services or [])
        )

    return lines
