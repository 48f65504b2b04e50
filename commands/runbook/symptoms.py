"""Runbook files as check targets: each symptom becomes a `CheckSpec` in the catalogue in force
(commands/catalogue.py), each extension adds its probes and remedies to a built-in target, each
service joins the platform's.

`apply` builds a new catalogue from the built-in declarations and the files and swaps it in one
step with no await between (so on the event loop it is atomic): a reload never leaves half a set,
changes no registry, and a set that does not lint is never applied (the caller keeps the old one
and says why).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from commands.checks.kube_probes import KubeHandle
from commands.config import ChecksConfig, ServiceSpec
from commands.probes import run_probes
from commands.registry import CheckContext, CheckResult, CheckSpec, NoParams
from commands.report import Finding, Severity, Text
from commands.runbook.judge import Observed, offered
from commands.runbook.lint import Referable, lint
from commands.runbook.load import LoadResult, Problem, load_dir
from commands.runbook.model import ProbeBase, Remedy, Symptom
from commands.runbook.probes import RUNNERS


def _probe_fn(ctx: CheckContext, kh: KubeHandle, probe: ProbeBase, seen: dict[str, Observed]) -> Any:
    async def run() -> list[Finding]:
        got = await RUNNERS[probe.kind](ctx, kh, probe)
        seen[probe.id] = got
        return got.findings

    return run


async def run_data_probes(
    ctx: CheckContext, probes: list[ProbeBase], remedies: list[Remedy], models: Mapping[str, type[BaseModel]]
) -> list[Finding]:
    """Every probe at once (each bounded by the probe time limit), then the remedies their evidence calls for."""
    seen: dict[str, Observed] = {}
    with KubeHandle(ctx) as kh:
        # a built-in check run as a probe gets a check's time; others the probe limit (run_probes' default)
        limit = ctx.config.timeouts.check_s if any(p.kind == "check" for p in probes) else None
        findings = await run_probes(ctx, {p.id: _probe_fn(ctx, kh, p, seen) for p in probes}, timeout_s=limit)
    for p in probes:  # a probe that raised has no Observed: its finding from run_probes stands, evidence empty
        seen.setdefault(p.id, Observed([f for f in findings if f.probe == p.id]))
    by_probe, notes = offered(remedies, seen, models)
    out = []
    for f in findings:
        first_probe = f.probe.split(", ")[0]
        extra = by_probe.pop(first_probe, []) if f.severity in (Severity.WARNING, Severity.CRITICAL) else []
        out.append(f.model_copy(update={"suggestions": [*f.suggestions, *extra]}) if extra else f)
    if notes:
        out.append(Finding(severity=Severity.OK, title="Remedies not offered", evidence=[Text(text="\n".join(notes))]))
    return out


def symptom_spec(s: Symptom, source: str, models: Mapping[str, type[BaseModel]]) -> CheckSpec:
    """A symptom as a check target (no options; its probes in progress messages)."""

    async def func(ctx: CheckContext, params: Any) -> CheckResult:
        findings = await run_data_probes(ctx, list(s.probes), list(s.remedies), models)
        return CheckResult(findings, {"source": source, "section": s.section, "services": s.services})

    return CheckSpec(
        name=s.name,
        summary=s.title,
        runbook=s.section,
        params=NoParams,
        func=func,
        timeout_s=s.timeout_s,
        probes=tuple(p.id for p in s.probes),
    )


def extended_spec(
    base: CheckSpec, probes: list[ProbeBase], remedies: list[Remedy], models: Mapping[str, type[BaseModel]]
) -> CheckSpec:
    """A built-in target with a file's probes and remedies added after its own."""

    async def func(ctx: CheckContext, params: Any) -> CheckResult:
        own = await base.func(ctx, params)
        if not probes:
            return own
        more = await run_data_probes(ctx, probes, remedies, models)
        return CheckResult([*own.findings, *more], own.data)

    names = base.probes
    added = tuple(p.id for p in probes)
    computed = (lambda cfg: (*names(cfg), *added)) if callable(names) else (*names, *added)
    return dataclasses.replace(base, func=func, probes=computed)


@dataclass
class RunbookSet:
    """The symptoms, extensions and services in force, with where each came from (`alp runbook list`)."""

    directory: Path | None = None
    sources: dict[str, str] = field(default_factory=dict)  # target name -> "file:line" (or "built in")
    services: list[ServiceSpec] = field(default_factory=list)
    _base_services: list[ServiceSpec] | None = None  # the configured services, before any file


def referable(config: ChecksConfig, extra_services: Iterable[str] = ()) -> Referable:
    """What files may name: built-in targets (not those a file added), verbs, actions, services."""
    from commands.catalogue import BUILT_IN  # every built-in target, step and action

    verbs = {"help", "health", "check", "do", "incident", "oncall", "changes", "logs", "audit", "runbook", "graph"}
    return Referable(
        targets=frozenset(BUILT_IN.checks.names()),
        check_params={spec.name: spec.params for spec in BUILT_IN.checks},
        verbs=frozenset(verbs | set(BUILT_IN.first_steps.names())),
        actions={a.name: a.params for a in BUILT_IN.actions},
        services=frozenset({s.name for s in config.platform.services} | set(extra_services)),
    )


def read(directory: Path, config: ChecksConfig) -> tuple[LoadResult, list[Problem]]:
    """Load and lint a directory: the files and every problem (models, then references)."""
    loaded = load_dir(directory)
    problems = list(loaded.problems)
    if not problems:
        problems += lint(loaded.files, referable(config))
    return loaded, problems


def apply(loaded: LoadResult, config: ChecksConfig, directory: Path | None = None) -> RunbookSet:
    """Put a linted set in force in place of the current one, in one synchronous step: a new
    catalogue built from the built-in declarations and these files (commands/catalogue.py
    `put_in_force`); no registry is changed. No files: the built-in catalogue. Returns the set."""
    from commands.catalogue import BUILT_IN, put_in_force

    global CURRENT
    models = {a.name: a.params for a in BUILT_IN.actions}
    new = RunbookSet(directory=directory, _base_services=CURRENT._base_services or list(config.platform.services))
    checks = BUILT_IN.checks.copy()
    for f in loaded.files:
        for i, s in enumerate(f.content.symptoms):
            checks.add(symptom_spec(s, f"{f.path.name}:{f.line('symptoms', i)}", models))
            new.sources[s.name] = f"{f.path.name}:{f.line('symptoms', i)}"
        for i, e in enumerate(f.content.extend):
            base = checks.get(e.target)  # built in, or already extended by an earlier file
            if base is None:
                continue
            checks.put(extended_spec(base, list(e.probes), list(e.remedies), models))
            new.sources[e.target] = f"built in, extended by {f.path.name}:{f.line('extend', i)}"
        new.services += list(f.content.services)
    # --- the swap: no await from here on
    put_in_force(dataclasses.replace(BUILT_IN, checks=checks) if loaded.files else BUILT_IN)
    configured = new._base_services or []
    taken = {s.name for s in configured}
    config.platform.services = [
        *configured,
        *(ServiceSpec(**s.model_dump()) for s in new.services if s.name not in taken),
    ]
    CURRENT = new
    return new


CURRENT = RunbookSet()
