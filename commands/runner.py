"""Run a declared check with its time limit; failures become findings, never tracebacks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from commands.cpu import DEADLINE
from commands.redact import redact
from commands.registry import REPORT_HOOKS, CheckContext, CheckSpec
from commands.report import Finding, Report, Severity

log = logging.getLogger(__name__)


_INFLIGHT: dict[tuple[str, str, int], asyncio.Task[Report]] = {}


async def run_check(spec: CheckSpec, ctx: CheckContext, params: BaseModel) -> Report:
    """Run `spec` within its time limit and wrap the result as a Report.

    Identical requests that arrive while one is running share its answer: fifty engineers
    asking for kafka-lag during an incident cost the brokers one sweep, not fifty."""
    key = (spec.name, params.model_dump_json(), id(ctx.config))
    task = _INFLIGHT.get(key)
    if task is None:
        task = asyncio.ensure_future(_run_check(spec, ctx, params))
        _INFLIGHT[key] = task
        task.add_done_callback(lambda _: _INFLIGHT.pop(key, None))
    return await asyncio.shield(task)


async def _run_check(spec: CheckSpec, ctx: CheckContext, params: BaseModel) -> Report:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    limit = spec.deadline_s(ctx.config, params)
    DEADLINE.set(t0 + limit)  # sliced CPU work (commands.cpu.Cutoff) ends before it, with what it saw
    try:
        result = await asyncio.wait_for(spec.func(ctx, params), limit)
        findings, data = result.findings, result.data
    except TimeoutError:
        findings = [
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{spec.name} did not finish within {limit:g}s",
                detail="A backend is slow or unreachable; the other checks may say which.",
            )
        ]
        data = {}
    except Exception as err:  # a check bug must still give the user an answer
        log.exception("check %s failed", spec.name)
        findings = [
            Finding(
                severity=Severity.UNKNOWN,
                title=f"{spec.name} could not run",
                detail=redact(f"{type(err).__name__}: {err}"),
            )
        ]
        data = {}
    for hook in list(REPORT_HOOKS.values()):  # e.g. commands/changes: recent changes on a critical report
        findings = [*findings, *await hook(spec, ctx, findings)]
    return Report(
        target=spec.name,
        started_at=started,
        duration_s=round(time.monotonic() - t0, 3),
        findings=findings,
        data=data,
    )


def check_runner(ctx: CheckContext) -> Callable[[str, dict[str, Any]], Awaitable[Report | None]]:
    """`Escalator.run_check`: a check by name and parameters (as recorded in an incident) -> its
    report, or None when no check has that name or the parameters no longer validate. `ctx`: the
    context every run gets, wired by the bot (`bot.check_context`)."""
    from commands.catalogue import current  # every target an incident may have recorded

    async def run(target: str, params: dict[str, Any]) -> Report | None:
        spec = current().checks.get(target)
        if spec is None:
            return None
        try:
            parsed = spec.params.model_validate(params)
        except ValueError:
            return None
        return await run_check(spec, ctx, parsed)

    return run
