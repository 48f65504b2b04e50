"""The one registry of check targets. Help, usage, the CLI and Slack all read it.

A check is declared once with `@check(...)`: its name, a one-line summary, the runbook
section it automates, a pydantic model for its `--options`, and its time limit.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

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
    probes: tuple[str, ...] = ()

    def options_help(self) -> list[str]:
        """One line per `--option`, from the params model."""
        lines = []
        for name, info in self.params.model_fields.items():
            flag = "--" + name.replace("_", "-")
            default = "" if info.is_required() else f" (default: {info.default})"
            lines.append(f"{flag} {name.upper()}: {info.description or ''}{default}")
        return lines

    def usage(self) -> str:
        opts = " ".join(f"[--{n.replace('_', '-')} …]" for n in self.params.model_fields)
        return f"check {self.name} {opts}".strip()


class Registry:
    """Named check specs, kept in declaration order."""

    def __init__(self) -> None:
        self._specs: dict[str, CheckSpec] = {}

    def add(self, spec: CheckSpec) -> None:
        if spec.name in self._specs:
            raise ValueError(f"check {spec.name!r} declared twice")
        self._specs[spec.name] = spec

    def order(self, names: list[str]) -> None:
        """List these names first, in this order (help follows the runbook's order)."""
        rank = {n: i for i, n in enumerate(names)}
        self._specs = dict(sorted(self._specs.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def get(self, name: str) -> CheckSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return list(self._specs)

    def closest(self, name: str, n: int = 3) -> list[str]:
        """Valid names nearest to a mistyped one, best first."""
        return difflib.get_close_matches(name, self.names(), n=n, cutoff=0.4)

    def __iter__(self) -> Iterator[CheckSpec]:
        return iter(self._specs.values())


CHECKS = Registry()
STEPS = Registry()  # `changes` and `logs`: the runbook's first steps, verbs of their own (not check targets)


def check(
    name: str,
    *,
    summary: str,
    runbook: str,
    params: type[BaseModel] = NoParams,
    timeout_s: float | None = None,
    probes: tuple[str, ...] = (),
    registry: Registry = CHECKS,
) -> Callable[[CheckFunc], CheckFunc]:
    """Declare a check target. The decorated function is returned unchanged."""

    def register(func: CheckFunc) -> CheckFunc:
        registry.add(CheckSpec(name, summary, runbook, params, func, timeout_s, probes))
        return func

    return register
