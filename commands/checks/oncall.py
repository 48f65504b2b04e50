"""`check oncall` (and `/alp check oncall`): declared here with every other check target, so each
reader of the catalogue (help, usage, alert routes, runbook files) sees it in any process. Its
evidence (coverage gaps in the next 14 days per schedule, user groups that differ from the schedule,
people on call who cannot be paged, calendars, refused group syncs, the pager webhook) is gathered
above commands/: it reads the state store and asks Slack, which commands/ may not, so the bot and the
terminal hand the gatherer in as `CheckContext.oncall` (bot/oncall/check.py), as they hand in the
audit reader. Without it the check says UNKNOWN, never OK. `/alp health` carries its one worst line.
"""

from __future__ import annotations

from typing import Any

from commands.registry import CheckContext, CheckResult, CheckSpec, NoParams, check, report_hook
from commands.report import Finding, Severity

PROBE = "oncall"


@check(
    "oncall",
    summary="on-call coverage (14 days), user groups, people who cannot be paged, the pager webhook",
    runbook="Escalation Procedures — Escalation Contacts",
    timeout_s=40,
    probes=("schedules", "groups", "people", "pager"),
)
async def oncall(ctx: CheckContext, params: NoParams) -> CheckResult:
    if ctx.oncall is None:
        return CheckResult(
            [
                Finding(
                    severity=Severity.UNKNOWN,
                    title="on-call not read: this process cannot reach the state store and Slack",
                    detail="run it from the bot (`/alp check oncall`) or the terminal (`alp check oncall`)",
                    probe="schedules",
                )
            ]
        )
    return await ctx.oncall(ctx.config)


async def health_line(ctx: CheckContext) -> Finding | None:
    """`/alp health`'s one on-call line: the worst of `check oncall` (None: no schedules configured)."""
    config: Any = ctx.config
    if not getattr(config, "oncall", None) or not config.oncall.schedules:
        return None
    result = await oncall(ctx, NoParams())
    bad = [f for f in result.findings if f.severity is not Severity.OK]
    if not bad:
        return Finding(
            severity=Severity.OK, title="on-call: every schedule covered for 14 days, groups in step", probe=PROBE
        )
    order = [Severity.CRITICAL, Severity.UNKNOWN, Severity.WARNING]
    worst = min(bad, key=lambda f: order.index(f.severity) if f.severity in order else len(order))
    more = f" (+{len(bad) - 1} more: `check oncall`)" if len(bad) > 1 else ""
    return Finding(severity=worst.severity, title=f"on-call: {worst.title}{more}", detail=worst.detail, probe=PROBE)


@report_hook("oncall")
async def _health(spec: CheckSpec, ctx: CheckContext, findings: list[Finding]) -> list[Finding]:
    """`health` carries the one on-call line."""
    if spec.name != "health":
        return []
    line = await health_line(ctx)
    return [line] if line is not None else []
