"""Lessons learned, closed: the runbook entry an incident suggests, from what was used during it.

`proposed_entry` turns the checks run and the actions taken during an incident into the YAML of a
symptom (one `check` probe per target that was run, one remedy per action that worked, `when` the
probe run before it), with what each check saw written beside it. The postmortem draft ends with
it: review it, then add it to `ALP_RUNBOOK_DIR` (`alp runbook lint` first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml


@dataclass(frozen=True)
class CheckSeen:
    """A check run during the incident: its target, verdict and the findings that were not OK."""

    target: str
    severity: str
    findings: list[str] = field(default_factory=list)
    at: str = ""


@dataclass(frozen=True)
class ActionTaken:
    """An action run during the incident, its parameters and whether it worked."""

    action: str
    params: dict[str, Any]
    ok: bool
    at: str = ""


def _comment(text: str) -> str:
    """One YAML comment line: foreign text can neither end it nor start a line of its own."""
    return "#   " + " ".join(text.split())[:200]


def _slug(text: str, limit: int = 40) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    s = s if s and s[0].isalpha() else f"x-{s}"
    return s[:limit].rstrip("-") or "lesson"


def proposed_entry(
    ref: str, summary: str, services: list[str], checks: list[CheckSeen], actions: list[ActionTaken]
) -> str:
    """The YAML of a proposed symptom, or "" when nothing was checked during the incident."""
    if not checks:
        return ""
    ids: dict[str, str] = {}
    for c in checks:
        ids.setdefault(c.target, c.target.replace("-", "_")[:40])
    remedies: list[dict[str, Any]] = []
    for a in actions:
        if not a.ok or a.action in {r["action"] for r in remedies}:
            continue
        before = [c.target for c in checks if not a.at or not c.at or c.at <= a.at]
        when = ids[before[-1]] if before else next(iter(ids.values()))
        params = {k: v for k, v in a.params.items() if isinstance(v, str | int) and not isinstance(v, bool)}
        remedies.append({"action": a.action, "params": params, "when": [when], "why": f"used in {ref}"})
    entry = {
        "symptoms": [
            {
                "name": _slug(f"{ref}-{summary}"),
                "title": summary[:150] or ref,
                "section": f"Lessons learned: {ref}",
                "services": services,
                "probes": [{"id": i, "kind": "check", "target": t} for t, i in ids.items()],
                "remedies": remedies,
            }
        ]
    }
    seen = [
        _comment(f"{c.at} {c.target}: {c.severity.upper()}" + (f": {c.findings[0]}" if c.findings else ""))
        for c in checks
    ]
    head = [
        f"# Proposed by alp from {ref}: review it (thresholds, parameters taken from this incident), then add it",
        "# to ALP_RUNBOOK_DIR after `alp runbook lint`. What the checks saw during the incident:",
        *seen[:20],
    ]
    body = str(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True, width=100))
    return "\n".join(head) + "\n" + body
