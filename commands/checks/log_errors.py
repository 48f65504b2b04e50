"""A service's error lines, chosen by their level and judged as a rate over the log window.

A line is an error by its level (commands.checks.logscan.line_level: a JSON `level` field, else
the first level word), not by containing the word "error": "FATAL cannot bind", "panic: nil
pointer" and `"level":"critical"` are errors; "INFO retried, no error" is not. The count is
judged as a share of the lines read over the window (thresholds `log_error_ratio_warn` and
`log_error_ratio_crit`; critical only from `log_error_min_lines` lines up, as two lines of a quiet
window are a large share of little), so one ERROR among 10,000 healthy lines is not a problem,
while any FATAL/panic line (a process saying it cannot go on) is at least a warning.
"""

from __future__ import annotations

from collections.abc import Callable

from commands.checks.kube_probes import KubeHandle, log_window, no_pods, tagged_samples, unreadable
from commands.config import Thresholds
from commands.log_levels import LEVELS, line_level
from commands.probes import Probe
from commands.report import Fields, Finding, Severity, Suggestion
from commands.runtime.cpu import off_loop

ERROR, FATAL = LEVELS["error"], LEVELS["fatal"]


def error_severity(errors: int, fatal: int, lines: int, th: Thresholds) -> Severity:
    """The rule: a share of the lines read (critical from a minimum count); a FATAL/panic line is at least WARNING."""
    share = errors / lines if lines else 0.0
    if errors >= th.log_error_min_lines and share >= th.log_error_ratio_crit:
        return Severity.CRITICAL
    if (errors and share >= th.log_error_ratio_warn) or fatal:
        return Severity.WARNING
    return Severity.OK


def error_lines(tagged: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """(source, line, level rank) of every line at ERROR or above. CPU work: off the loop."""
    out = []
    for src, line in tagged:
        rank = line_level(line)
        if rank is not None and rank >= ERROR:
            out.append((src, line, rank))
    return out


def log_errors_probe(
    kh: KubeHandle, namespace: str, app: str, suggest: Callable[[list[str]], list[Suggestion]] = lambda _: []
) -> Probe:
    """Lines of `app`'s recent logs at ERROR or above, judged as a rate (`error_severity`)."""

    async def probe() -> list[Finding]:
        logs = await kh.logs(namespace, app)
        if not logs.lines and logs.errors:
            return [unreadable(app, logs)]
        if not logs.lines:
            return await no_pods(kh, namespace, f"app={app}", app)
        cfg = kh.ctx.config
        window, th = log_window(cfg), cfg.thresholds
        read = len(logs.all_lines())
        if not read:
            return [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"{app}: 0 log lines from {len(logs.pods)} pod(s), nothing to judge",
                    detail=f"looked for lines at ERROR or above over the {window}",
                )
            ]
        hits = await off_loop(error_lines, logs.tagged())
        fatal = sum(1 for _, _, rank in hits if rank >= FATAL)
        severity = error_severity(len(hits), fatal, read, th)
        share = len(hits) / read
        fatal_note = f", {fatal} FATAL/panic/critical" if fatal else ""
        sources = sorted({src for src, _, _ in hits})
        where = f"; from {', '.join(sources[:5])}" + (f" and {len(sources) - 5} more" if len(sources) > 5 else "")
        return [
            Finding(
                severity=severity,
                title=f"{app}: {len(hits)} line(s) at ERROR or above in {read} log line(s) "
                f"({share:.2%}{fatal_note}; {window})",
                detail=f"judged as a share of the lines read: warning from {th.log_error_ratio_warn:.0%}, critical "
                f"from {th.log_error_ratio_crit:.0%} and {th.log_error_min_lines} line(s); any FATAL/panic "
                "line is at least a warning" + (where if sources else ""),
                evidence=[
                    Fields(
                        items={
                            "error lines": str(len(hits)),
                            "of which FATAL/panic/critical": str(fatal),
                            "lines read": str(read),
                            "share": f"{share:.2%}",
                            "window": window,
                        }
                    ),
                    *tagged_samples([(src, line) for src, line, _ in hits], cfg.logs.samples),
                ],
                suggestions=suggest([line for _, line, _ in hits]) if severity is not Severity.OK else [],
            )
        ]

    return probe
