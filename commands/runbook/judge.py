"""A probe's value against its thresholds, and remedies' templates filled from evidence.

Pure functions, no I/O: the same rules for every probe kind of a runbook file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from commands.report import Finding, Severity, Suggestion
from commands.runbook.lint import TEMPLATE
from commands.runbook.model import ProbeBase, Remedy


def severity_of(
    value: float, probe: ProbeBase, warning: float | None = None, critical: float | None = None
) -> Severity:
    """CRITICAL from `critical`, WARNING from `warning` (the probe's own, else the kind's default given
    here), in the probe's direction: `above` is bad at or over the threshold, `below` at or under it."""
    w = probe.warning if probe.warning is not None else warning
    c = probe.critical if probe.critical is not None else critical

    def bad(t: float) -> bool:
        return value >= t if probe.direction == "above" else value <= t

    if c is not None and bad(c):
        return Severity.CRITICAL
    if w is not None and bad(w):
        return Severity.WARNING
    return Severity.OK


def thresholds_text(probe: ProbeBase, unit: str, warning: float | None = None, critical: float | None = None) -> str:
    """`thresholds: warning 5/min, critical 20/min` (or that none are set: the value is only shown)."""
    w = probe.warning if probe.warning is not None else warning
    c = probe.critical if probe.critical is not None else critical
    parts = [
        f"{name} {'≤' if probe.direction == 'below' else ''}{v:g}{unit}"
        for name, v in (("warning", w), ("critical", c))
        if v is not None
    ]
    return f"thresholds: {', '.join(parts)}" if parts else "no thresholds set: shown, not judged"


@dataclass
class Observed:
    """What one probe saw: its findings and the evidence fields remedies' templates may name."""

    findings: list[Finding]
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def worst(self) -> Severity:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.UNKNOWN)


def fill(remedy: Remedy, seen: dict[str, Observed]) -> tuple[dict[str, str | int], str | None]:
    """The remedy's params with `{{probe.field}}` replaced from what the probes saw; or why not."""
    out: dict[str, str | int] = {}
    for key, value in remedy.params.items():
        if not isinstance(value, str):
            out[key] = value
            continue
        missing = [
            f"{pid}.{fld}"
            for pid, fld in TEMPLATE.findall(value)
            if pid not in seen or seen[pid].evidence.get(fld) in (None, "")
        ]
        if missing:
            return {}, f"the evidence gives no {', '.join(missing)}"
        text = TEMPLATE.sub(lambda m: str(seen[m.group(1)].evidence[m.group(2)]), value)
        whole = TEMPLATE.fullmatch(value.strip())
        out[key] = int(text) if whole and text.lstrip("-").isdigit() else text
    return out, None


def offered(
    remedies: list[Remedy], seen: dict[str, Observed], models: Mapping[str, type[BaseModel]]
) -> tuple[dict[str, list[Suggestion]], list[str]]:
    """Suggestions per probe id (the first probe of `when` that is WARNING or worse carries it), and
    why any remedy called for was not offered. A remedy is offered only where its probes point to it."""
    by_probe: dict[str, list[Suggestion]] = {}
    notes: list[str] = []
    for r in remedies:
        firing = [p for p in r.when if p in seen and seen[p].worst in (Severity.WARNING, Severity.CRITICAL)]
        if not firing:
            continue
        params, why = fill(r, seen)
        model = models.get(r.action)
        if why is None and model is not None:
            try:
                model.model_validate(params)
            except ValidationError as err:
                first = err.errors(include_url=False)[0]
                why = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
        if why is not None or model is None:
            notes.append(f"`{r.action}` not offered: {why or 'no such action'}")
            continue
        by_probe.setdefault(firing[0], []).append(Suggestion(action=r.action, params=params, why=r.why))
    return by_probe, notes
