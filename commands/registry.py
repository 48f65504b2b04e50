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
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from commands.config import ChecksConfig
from commands.report import Finding


class NoParams(BaseModel):
    """A check that takes no options."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class CheckResult:
    """What a check function returns; the runner adds target and timing."""

    findings: list[Finding]
    data: dict[str, Any] = field(default_factory=dict)


ProgressFn = Callable[[str, str], Awaitable[None]]


@dataclass
class CheckContext:
    """What a check gets besides its parameters: configuration and a progress hook."""

    config: ChecksConfig
    progress: ProgressFn | None = None

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
STEPS: Registry[CheckSpec] = Registry(
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
) -> Callable[[CheckFunc], CheckFunc]:
    """Declare a check target. The decorated function is returned unchanged."""

    def register(func: CheckFunc) -> CheckFunc:
        registry.add(CheckSpec(name, summary, runbook, params, func, timeout_s, probes))
        return func

    return register
