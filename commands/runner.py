"""Run a declared check with its time limit; failures become findings, never tracebacks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from commands.check_slots import SLOTS, Ticket
from commands.masking.redact import redact
from commands.registry import REPORT_HOOKS, CheckContext, CheckSpec
from commands.report import Finding, Report, Severity
from commands.runtime.cpu import DEADLINE

log = logging.getLogger(__name__)


@dataclass
class CheckRun:
    """One run of a check, shared by every identical ask made while it lasts (`start_check`)."""

    ticket: Ticket  # its claim on a slot (commands/check_slots.py)
    task: asyncio.Task[Report]

    @property
    def place(self) -> int:
        """Its place in the line of runs waiting for a slot (1: next); 0 once it runs."""
        return self.ticket.place

    async def started(self) -> None:
        """Until the run has its slot (or has ended)."""
        ends: list[asyncio.Future[Any]] = [self.ticket.granted, self.task]
        await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)

    async def report(self) -> Report:
        """Its report; a cancelled wait here leaves the run going for the others who asked."""
        return await asyncio.shield(self.task)


_INFLIGHT: dict[tuple[str, str, int], CheckRun] = {}


def start_check(spec: CheckSpec, ctx: CheckContext, params: BaseModel) -> CheckRun:
    """The run of `spec` with `params`: the one already going or waiting for a slot, else a new one.

    Identical requests that arrive while one is running share its answer: fifty engineers
    asking for kafka-lag during an incident cost the brokers one sweep, not fifty. Different
    ones run at most `checks.max_running` at once; the rest wait in line (`CheckRun.place`)."""
    key = (spec.name, params.model_dump_json(), id(ctx.config))
    run = _INFLIGHT.get(key)
    if run is None:
        ticket = SLOTS.take(ctx.config.checks.max_running)
        run = CheckRun(ticket, asyncio.ensure_future(_run_check(spec, ctx, params, ticket)))
        _INFLIGHT[key] = run
        run.task.add_done_callback(lambda _: _INFLIGHT.pop(key, None))
        if ticket.place:
            log.info(
                "check %s queued at place %d: %d running (at most %d at once)",
                spec.name,
                ticket.place,
                SLOTS.running,
                SLOTS.limit,
            )
    return run


async def run_check(spec: CheckSpec, ctx: CheckContext, params: BaseModel) -> Report:
    """Run `spec` within its time limit (once it has a slot) and wrap the result as a Report."""
    return await start_check(spec, ctx, params).report()


async def _run_check(spec: CheckSpec, ctx: CheckContext, params: BaseModel, ticket: Ticket) -> Report:
    await ticket.wait()  # waiting in line is not part of the check's deadline
    try:
        return await _timed(spec, ctx, params)
    finally:
        ticket.release()


async def _timed(spec: CheckSpec, ctx: CheckContext, params: BaseModel) -> Report:
    started = datetime.now(UTC)
    t0 = time.monotonic()
    limit = spec.deadline_s(ctx.config, params)
    DEADLINE.set(t0 + limit)  # sliced CPU work (commands.runtime.cpu.Cutoff) ends before it, with what it saw
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
