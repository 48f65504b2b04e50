"""Run a check's probes concurrently, each with its own time limit.

A probe is an async function returning findings. One that raises or runs out of time
becomes a finding saying so (never a traceback), and progress is reported as each ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from commands.backends.errors import (
    BackendError,
    BackendLoginRefused,
    BackendNotPermitted,
    BackendRefused,
    BackendUnreachable,
)
from commands.backends.kube_errors import KubeError, KubeForbidden, KubeNotFound, KubeUnavailable
from commands.config import ChecksConfig
from commands.kube.findings import kube_error_finding
from commands.masking.redact import redact
from commands.registry import CheckContext
from commands.report import Finding, Severity

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[list[Finding]]]


def availability(probe: Probe) -> Probe:
    """Mark a probe that asks the platform "do you answer?" (TCP, /health, SELECT 1, PING, DNS,
    HTTPS): its running out of time is the answer (CRITICAL). Every other probe gathers evidence
    (logs, metrics, the Kubernetes API, statistics views): its running out of time is alp not
    seeing, UNKNOWN (`failure_finding`)."""
    probe.availability = True  # type: ignore[attr-defined]
    return probe


def is_availability(probe: Probe) -> bool:
    return bool(getattr(probe, "availability", False))


def unreachable(backend: str, host: str, port: int) -> str:
    """The one title for "cannot connect to this backend", whichever probe met it (TCP or client),
    so a report states it once (`backend_finding` words a BackendUnreachable with an address the same)."""
    return f"{backend} unreachable at {host}:{port}"


def login_failure(backend: str, user: str, detail: str, probe: str) -> Finding:
    """The bot's credentials are refused: one finding naming user and backend, not an outage.

    UNKNOWN (exit 3): the bot could not look, which says nothing about the backend's health."""
    return Finding(
        severity=Severity.UNKNOWN,
        title=f"The bot cannot log in to {backend} as {user}",
        detail=f"{redact(detail)} (check the bot's credentials; the {backend} checks could not run)",
        probe=probe,
    )


def failure_finding(
    probe: str, err: BaseException, timeout_s: float, cfg: ChecksConfig | None = None, answers: bool = False
) -> Finding:
    """What a failed probe tells the engineer.

    Findings naming the same root cause get the same title, so `merge_causes` reports it once.
    A refused or missing Kubernetes object and refused credentials are UNKNOWN: nothing was read.
    An unreachable backend stays critical: that is what the bot saw. Every backend wrapper
    raises `BackendError` (commands/backends/errors.py); anything else is a bug, logged.

    Running out of time: CRITICAL for an availability probe (`answers`: no answer is the
    finding), UNKNOWN for one that gathers evidence (alp did not see; a busy host or a short
    ALP_TIMEOUTS__PROBE_S says nothing about the platform)."""
    if isinstance(err, TimeoutError):
        if answers:
            return Finding(severity=Severity.CRITICAL, title=f"{probe}: no answer within {timeout_s:g}s", probe=probe)
        return evidence_timeout(probe, f"not gathered within {timeout_s:g}s")
    if isinstance(err, KubeUnavailable) and err.reason.startswith("no answer within"):
        return evidence_timeout(probe, f"the Kubernetes API gave {err.reason}")
    if isinstance(err, BackendError):
        return backend_finding(probe, err)
    if isinstance(err, OSError):  # a plain network probe (commands.backends.net): what the bot saw
        return Finding(
            severity=Severity.CRITICAL, title=f"{probe}: {type(err).__name__}", detail=redact(str(err)), probe=probe
        )
    log.exception("probe %s failed", probe, exc_info=err)
    return Finding(
        severity=Severity.UNKNOWN,
        title=f"{probe} could not run",
        detail=redact(f"{type(err).__name__}: {err}"),
        probe=probe,
    )


def evidence_timeout(probe: str, why: str) -> Finding:
    """alp's own deadline ran out while gathering evidence: UNKNOWN, saying it is alp's limit."""
    return Finding(
        severity=Severity.UNKNOWN,
        title=f"{probe}: evidence {why}" if why.startswith("not") else f"{probe}: {why}",
        detail="alp's own time limit (ALP_TIMEOUTS__PROBE_S), on a busy host or a slow API: "
        "nothing was judged, which says nothing about the platform's health",
        probe=probe,
    )


def backend_finding(probe: str, err: BackendError) -> Finding:
    """The finding for a backend call that failed inside `probe`: one title per cause, whichever
    probe met it (a down backend, refused credentials), so the report states it once."""
    if isinstance(err, KubeError):  # Kubernetes words its own (RBAC names the verb and resource)
        f = kube_error_finding(err, probe)
        blind = isinstance(err, KubeForbidden | KubeNotFound)
        return f.model_copy(update={"probe": probe, **({"severity": Severity.UNKNOWN} if blind else {})})
    if isinstance(err, BackendLoginRefused):
        return login_failure(err.backend, err.user, str(err), probe)
    if isinstance(err, BackendUnreachable):
        title = f"{err.backend} unreachable at {err.address}" if err.address else f"{err.backend} unreachable"
        return Finding(severity=Severity.CRITICAL, title=title, detail=redact(str(err)), probe=probe)
    if isinstance(err, BackendNotPermitted):  # this probe's command only: the others ran
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{probe}: {err.what}",
            detail=f"{redact(err.reason)}; what this probe reads was not seen, the probes that need other commands ran",
            probe=probe,
        )
    if isinstance(err, BackendRefused):  # the backend answered: nothing was read, nothing is known broken
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{probe}: {err.backend} refused the command",
            detail=redact(str(err)),
            probe=probe,
        )
    return Finding(severity=Severity.UNKNOWN, title=f"{probe} could not run", detail=redact(str(err)), probe=probe)


def merge_causes(findings: list[Finding]) -> list[Finding]:
    """One root cause once per report: findings with the same severity and title (e.g. "Redis
    unreachable" from four probes) become one, naming every probe that met it. And nothing to
    do about what is fine: an OK finding carries no suggestions, whatever a probe attached. And
    one button per remedy: a suggestion (action and parameters) stays on the first finding that
    offers it in the order reports show them (worst first, then probe order: the cause first)."""
    merged: dict[tuple[str, str], Finding] = {}
    for f in findings:
        if f.severity is Severity.OK and f.suggestions:
            f = f.model_copy(update={"suggestions": []})
        key = (f.severity.value, f.title)
        first = merged.get(key)
        if first is None:
            merged[key] = f
        elif f.probe and f.probe not in first.probe.split(", "):
            first.probe = f"{first.probe}, {f.probe}" if first.probe else f.probe
    out = list(merged.values())
    offered: set[str] = set()
    for f in sorted(out, key=lambda f: -f.severity.rank):
        kept = [s for s in f.suggestions if s.label not in offered]
        offered |= {s.label for s in f.suggestions}
        if len(kept) < len(f.suggestions):
            f.suggestions = kept
    return out


SCALED_TO_ZERO = "is scaled to 0 desired replicas"  # commands.checks.kube_probes.scaled_to_zero


def withdraw_contradicted(findings: list[Finding]) -> list[Finding]:
    """No remedy the same report contradicts: restarting a deployment the report shows scaled to
    0 replicas restarts nothing, so those restart suggestions are withdrawn (scaling it up is offered)."""
    idle = {
        str(s.params.get("deployment"))
        for f in findings
        if SCALED_TO_ZERO in f.title
        for s in f.suggestions
        if s.action == "scale"
    }
    if not idle:
        return findings
    out = []
    for f in findings:
        kept = [s for s in f.suggestions if not (s.action == "restart" and s.params.get("deployment") in idle)]
        out.append(f if len(kept) == len(f.suggestions) else f.model_copy(update={"suggestions": kept}))
    return out


async def run_probes(ctx: CheckContext, probes: dict[str, Probe], timeout_s: float | None = None) -> list[Finding]:
    """All probes at once; findings in the order the probes were given."""
    limit = timeout_s or ctx.config.timeouts.probe_s * 2

    async def one(name: str, probe: Probe) -> list[Finding]:
        try:
            findings = await asyncio.wait_for(probe(), limit)
            for f in findings:
                if not f.probe:
                    f.probe = name
        except Exception as err:
            findings = [failure_finding(name, err, limit, ctx.config, is_availability(probe))]
        await ctx.report_progress(name, "done")
        return findings

    for name in probes:
        await ctx.report_progress(name, "running")
    results = await asyncio.gather(*(one(n, p) for n, p in probes.items()))
    return withdraw_contradicted(merge_causes([f for group in results for f in group]))
