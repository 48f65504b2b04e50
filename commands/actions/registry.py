"""The one registry of remediations, declared once each: parameters (a pydantic model),
risk, time limit, how to preview, how to run, what undoes it and which check verifies it.
Help, `/alp do`, buttons, forms and permissions all read these declarations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from commands.config import ChecksConfig
from commands.registry import Registry


class Risk(StrEnum):
    SAFE = "safe"  # reversible, no user impact (warm a cache, patch a flag)
    DISRUPTIVE = "disruptive"  # restarts, scaling, terminating queries: users may notice
    DESTRUCTIVE = "destructive"  # data or state lost: two people must agree

    @property
    def rank(self) -> int:
        return {"safe": 0, "disruptive": 1, "destructive": 2}[self.value]


class ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Preview:
    """What would change, as exactly as the backend can say (server-side dry run, the rows, …)."""

    lines: list[str]
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)  # e.g. the backends to terminate
    refusal: str | None = None  # set when the action must not run (and why)
    target: str = ""  # the lock key: what this action touches


@dataclass
class Outcome:
    """What happened."""

    ok: bool
    summary: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    undo: tuple[str, dict[str, Any]] | None = None  # (action, params) that reverts it


@dataclass
class ActionContext:
    config: ChecksConfig

    @property
    def namespace(self) -> str:
        return self.config.namespace


PreviewFn = Callable[[ActionContext, Any], Awaitable[Preview]]
ExecuteFn = Callable[[ActionContext, Any, Preview], Awaitable[Outcome]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    summary: str
    runbook: str
    risk: Risk
    params: type[ActionParams]
    preview: PreviewFn
    execute: ExecuteFn
    positional: tuple[str, ...] = ()
    timeout_s: float = 60
    verify: str | None = None  # check target re-run afterwards

    def usage(self) -> str:
        pos = " ".join(f"<{p}>" for p in self.positional)
        rest = " ".join(
            "key=value …" if n == "values" else f"[{n}=…]" for n in self.params.model_fields if n not in self.positional
        )
        return f"do {self.name} {pos} {rest}".replace("  ", " ").strip()


ACTIONS: Registry[ActionSpec] = Registry("action", "Actions")


def action(
    name: str,
    *,
    summary: str,
    runbook: str,
    risk: Risk,
    params: type[ActionParams],
    preview: PreviewFn,
    positional: tuple[str, ...] = (),
    timeout_s: float = 60,
    verify: str | None = None,
    registry: Registry[ActionSpec] = ACTIONS,
) -> Callable[[ExecuteFn], ExecuteFn]:
    """Declare a remediation; the decorated function runs it (after its preview)."""

    def register(execute: ExecuteFn) -> ExecuteFn:
        registry.add(ActionSpec(name, summary, runbook, risk, params, preview, execute, positional, timeout_s, verify))
        return execute

    return register
