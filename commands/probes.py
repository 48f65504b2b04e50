"""Run a check's probes concurrently, each with its own time limit.

A probe is an async function returning findings. One that raises or runs out of time
becomes a finding saying so (never a traceback), and progress is reported as each ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError as RedisNoPermissionError
from redis.exceptions import ResponseError as RedisResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from commands.backends.kafka import KafkaUnavailable
from commands.backends.kube import KubeError
from commands.backends.postgres import PostgresUnavailable
from commands.kube_findings import kube_error_finding
from commands.redact import redact
from commands.registry import CheckContext
from commands.report import Finding, Severity

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[list[Finding]]]


def failure_finding(probe: str, err: BaseException, timeout_s: float) -> Finding:
    """What a failed probe tells the engineer."""
    if isinstance(err, TimeoutError):
        return Finding(severity=Severity.CRITICAL, title=f"{probe}: no answer within {timeout_s:g}s", probe=probe)
    if isinstance(err, KubeError):
        f = kube_error_finding(err, probe)
        return f.model_copy(update={"probe": probe})
    if isinstance(err, PostgresUnavailable):
        return Finding(severity=Severity.CRITICAL, title="PostgreSQL unreachable", detail=redact(str(err)), probe=probe)
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
        return Finding(severity=Severity.CRITICAL, title="Kafka unreachable", detail=str(err), probe=probe)
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
            findings = [failure_finding(name, err, limit)]
        await ctx.report_progress(name, "done")
        return findings

    for name in probes:
        await ctx.report_progress(name, "running")
    results = await asyncio.gather(*(one(n, p) for n, p in probes.items()))
    return [f for group in results for f in group]
