"""The one registry of check targets, and the generic `Registry` every declaration kind uses
(checks, first steps, `commands/actions/registry.py`'s actions), with the one "did you mean".
Help, usage, the CLI and Slack all read it.

A check is declared once with `@check(...)`: its name, a one-line summary, the runbook
section it automates, a pydantic model for its `--options`, and its time limit.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from commands.config import ChecksConfig
from commands.report import Finding


class NoParams(BaseModel):
    """A check that takes no options."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class CheckResult:
    """What a check function returns; the runner adds target and timing. `data["usage_error"]` (str):
    the words were wrong in a way only running could tell (a query Prometheus refuses as malformed):
    the terminal says it as every usage error (exit 64); `findings` say it in Slack."""

    findings: list[Finding]
    data: dict[str, Any] = field(default_factory=dict)


ProgressFn = Callable[[str, str], Awaitable[None]]
AuditReader = Callable[[str, datetime], Awaitable[Any]]
"""(state url, since) -> alp's audit records from `since` (`escalation.state.audit.changes_since`,
handed in by the bot and the terminal: commands/ never imports escalation/)."""

OncallEvidence = Callable[[Any], Awaitable["CheckResult"]]
"""(the bot's settings) -> `check oncall`'s findings: the schedules and overrides in the state store,
Slack's user groups and people, the pager webhook (`bot.oncall.check.oncall_evidence`, handed in by the
bot and the terminal: commands/ never imports escalation/ or Slack)."""


@dataclass
class CheckContext:
    """What a check gets besides its parameters: configuration, a progress hook, the reader of
    alp's own audit log (`AuditReader`; None: alp's actions are not shown) and the gatherer of
    `check oncall`'s evidence (`OncallEvidence`; None: on-call is UNKNOWN in this process)."""

    config: ChecksConfig
    progress: ProgressFn | None = None
    audit_reader: AuditReader | None = None
    oncall: OncallEvidence | None = None

    async def report_progress(self, probe: str, state: str) -> None:
        """Tell the caller (Slack message, terminal) that `probe` is now `state`."""
        if self.progress is not None:
            await self.progress(probe, state)


CheckFunc = Callable[[CheckContext, Any], Awaitable[CheckResult]]


@dataclass(frozen=True)
class CheckSpec:
    """The declaration of one check target."""

    name: str
    summary: str
    runbook: str
    params: type[BaseModel]
    func: CheckFunc
    timeout_s: float | None = None  # None: the configured `timeouts.check_s`
    probes: tuple[str, ...] | Callable[[ChecksConfig], tuple[str, ...]] = ()  # or computed from configuration
    extra_s: Callable[[ChecksConfig, Any], float] | None = None  # time the params ask for (e.g. sampling)

    def deadline_s(self, config: ChecksConfig, params: Any) -> float:
        """The whole check's limit: `timeouts.check_s` plus what its own params ask for (the
        sampling `--samples 8 --interval 10` needs), so following a report's advice never runs
        into the limit."""
        base = self.timeout_s or config.timeouts.check_s
        return base + (self.extra_s(config, params) if self.extra_s else 0.0)

    def probe_names(self, config: ChecksConfig) -> tuple[str, ...]:
        """The probes a run with this configuration starts, in order (the progress message lists them)."""
        return self.probes(config) if callable(self.probes) else self.probes

    def options_help(self) -> list[str]:
        """One line per `--option`, from the params model."""
        lines = []
        for name, info in self.params.model_fields.items():
            flag = "--" + name.replace("_", "-")
            said = "default:" in (info.description or "")  # the description says it (e.g. "from config")
            default = "" if info.is_required() or info.default is None or said else f" (default: {info.default})"
            lines.append(f"{flag} {name.upper()}: {info.description or ''}{default}")
        return lines

    def usage(self) -> str:
        opts = " ".join(f"[--{n.replace('_', '-')} …]" for n in self.params.model_fields)
        return f"check {self.name} {opts}".strip()


class Named(Protocol):
    """What a registry holds: a declaration with a name (a check, a step, an action)."""

    @property
    def name(self) -> str: ...


Spec = TypeVar("Spec", bound=Named)


def closest(word: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """Up to `n` choices nearest to a mistyped word, best first (difflib's ratio, at least 0.4)."""
    return difflib.get_close_matches(word, list(choices), n=n, cutoff=0.4)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """The one "did you mean" of every usage error: `` Did you mean `a` or `b`?`` or ""."""
    close = closest(word, choices)
    return f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""


class Registry(Generic[Spec]):
    """Named declarations, kept in declaration order: checks, first steps, actions.

    `kind` names one entry in messages ("check target"), `plural` heads their list ("Targets").
    """

    def __init__(self, kind: str, plural: str) -> None:
        self.kind, self.plural = kind, plural
        self._specs: dict[str, Spec] = {}

    def add(self, spec: Spec) -> None:
        """Raises ValueError for a name declared twice."""
        if spec.name in self._specs:
            raise ValueError(f"{self.kind} {spec.name!r} declared twice")
        self._specs[spec.name] = spec

    def remove(self, name: str) -> None:
        """Forget a declaration (a runbook file's symptom on reload); absent names are ignored."""
        self._specs.pop(name, None)

    def copy(self) -> Registry[Spec]:
        """A new registry holding the same declarations in the same order (a runbook set builds on it)."""
        out: Registry[Spec] = Registry(self.kind, self.plural)
        out._specs = dict(self._specs)
        return out

    def put(self, spec: Spec) -> None:
        """Declare or replace in place, keeping the listed order (a built-in target a file extends)."""
        self._specs[spec.name] = spec

    def order(self, names: list[str]) -> None:
        """List these names first, in this order (help follows the runbook's order)."""
        rank = {n: i for i, n in enumerate(names)}
        self._specs = dict(sorted(self._specs.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def get(self, name: str) -> Spec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return list(self._specs)

    def unknown(self, name: str) -> str:
        """The usage error for a name not declared: the nearest names, then all of them."""
        return (
            f"unknown {self.kind} `{name}`.{did_you_mean(name, self.names())} {self.plural}: {', '.join(self.names())}"
        )

    def section(self, line: Callable[[Spec], str], title: str | None = None) -> list[str]:
        """A help section: its title (if any), then one line per declaration, in order."""
        return [*([title] if title else []), *(line(spec) for spec in self)]

    def __iter__(self) -> Iterator[Spec]:
        return iter(self._specs.values())


CHECKS: Registry[CheckSpec] = Registry("check target", "Targets")
FIRST_STEPS: Registry[CheckSpec] = Registry(
    "step", "Steps"
)  # `changes` and `logs`: the runbook's first steps, verbs of their own (not check targets)


def check(
    name: str,
    *,
    summary: str,
    runbook: str,
    params: type[BaseModel] = NoParams,
    timeout_s: float | None = None,
    probes: tuple[str, ...] | Callable[[ChecksConfig], tuple[str, ...]] = (),
    registry: Registry[CheckSpec] = CHECKS,
    extra_s: Callable[[ChecksConfig, Any], float] | None = None,
) -> Callable[[CheckFunc], CheckFunc]:
    """Declare a check target. The decorated function is returned unchanged."""

    def register(func: CheckFunc) -> CheckFunc:
        registry.add(CheckSpec(name, summary, runbook, params, func, timeout_s, probes, extra_s))
        return func

    return register


ReportHook = Callable[[CheckSpec, CheckContext, list[Finding]], Awaitable[list[Finding]]]
"""A rule that adds findings to every report: (the check, its context, its findings) -> findings to add."""
REPORT_HOOKS: dict[str, ReportHook] = {}


def report_hook(name: str) -> Callable[[ReportHook], ReportHook]:
    """Declare a report hook under `name`; commands/runner.py runs every declared hook after each
    check, in declaration order (the rule stays in the package it belongs to)."""

    def register(fn: ReportHook) -> ReportHook:
        REPORT_HOOKS[name] = fn
        return fn

    return register
