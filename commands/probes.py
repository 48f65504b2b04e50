"""Run a check's probes concurrently, each with its own time limit.

A probe is an async function returning findings. One that raises or runs out of time
becomes a finding saying so (never a traceback), and progress is reported as each ends.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from redis.exceptions import AuthenticationError as RedisAuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError as RedisNoPermissionError
from redis.exceptions import ResponseError as RedisResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from commands.backends.kafka import KafkaUnavailable
from commands.backends.kube import KubeError, KubeForbidden, KubeNotFound
from commands.backends.postgres import PostgresUnavailable
from commands.config import ChecksConfig
from commands.kube_findings import kube_error_finding
from commands.redact import redact
from commands.registry import CheckContext
from commands.report import Finding, Severity

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[list[Finding]]]


_PG_LOGIN = re.compile(r'(?:authentication failed for user|role) "([^"]+)"(?: does not exist)?')


_PG_SERVER = re.compile(r'server at "([^"]+)", port (\d+) failed')


def unreachable(backend: str, host: str, port: int) -> str:
    """The one title for "cannot connect to this backend", whichever probe met it (TCP or client),
    so a report states it once."""
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


def failure_finding(probe: str, err: BaseException, timeout_s: float, cfg: ChecksConfig | None = None) -> Finding:
    """What a failed probe tells the engineer.

    Findings naming the same root cause get the same title, so `merge_causes` reports it once.
    A refused or missing Kubernetes object and refused credentials are UNKNOWN: nothing was read.
    An unreachable backend stays critical: that is what the bot saw."""
    if isinstance(err, TimeoutError):
        return Finding(severity=Severity.CRITICAL, title=f"{probe}: no answer within {timeout_s:g}s", probe=probe)
    if isinstance(err, KubeError):
        f = kube_error_finding(err, probe)
        blind = isinstance(err, KubeForbidden | KubeNotFound)
        return f.model_copy(update={"probe": probe, **({"severity": Severity.UNKNOWN} if blind else {})})
    if isinstance(err, PostgresUnavailable):
        login = _PG_LOGIN.search(str(err))
        if login:
            return login_failure("PostgreSQL", login.group(1), str(err), probe)
        at = _PG_SERVER.search(str(err))
        title = unreachable("PostgreSQL", at.group(1), int(at.group(2))) if at else "PostgreSQL unreachable"
        return Finding(severity=Severity.CRITICAL, title=title, detail=redact(str(err)), probe=probe)
    if isinstance(err, RedisAuthenticationError) or (
        isinstance(err, RedisResponseError) and str(err).startswith(("WRONGPASS", "NOAUTH", "NOPERM"))
    ):
        return login_failure("Redis", redis_user(cfg.redis_url if cfg else ""), str(err), probe)
    if isinstance(err, RedisConnectionError | RedisTimeoutError):
        return Finding(severity=Severity.CRITICAL, title="Redis unreachable", detail=redact(str(err)), probe=probe)
    if isinstance(err, RedisNoPermissionError | RedisResponseError):  # the server refused a command: an answer
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"{probe}: Redis refused the command",
            detail=redact(f"{type(err).__name__}: {err}"),
            probe=probe,
        )
    if isinstance(err, KafkaUnavailable):
        title = f"Kafka unreachable at {cfg.kafka_bootstrap}" if cfg else "Kafka unreachable"
        return Finding(severity=Severity.CRITICAL, title=title, detail=str(err), probe=probe)
    if isinstance(err, OSError | ConnectionError):
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


def merge_causes(findings: list[Finding]) -> list[Finding]:
    """One root cause once per report: findings with the same severity and title (e.g. "Redis
    unreachable" from four probes) become one, naming every probe that met it. And nothing to
    do about what is fine: an OK finding carries no suggestions, whatever a probe attached."""
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
    return list(merged.values())


SCALED_TO_ZERO = "is scaled to 0 desired replicas"  # commands.checks.blocks.scaled_to_zero


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


def redis_user(url: str) -> str:
    """The user a Redis URL logs in as (`default` when it names none)."""
    return urlsplit(url).username or "default"


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
            findings = [failure_finding(name, err, limit, ctx.config)]
        await ctx.report_progress(name, "done")
        return findings

    for name in probes:
        await ctx.report_progress(name, "running")
    results = await asyncio.gather(*(one(n, p) for n, p in probes.items()))
    return withdraw_contradicted(merge_causes([f for group in results for f in group]))
