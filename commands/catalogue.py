"""The catalogue: the one place that loads every declaration, so what a registry holds never depends
on what a process happened to import first. Importing this module registers every check target
(`commands.checks`, `check oncall` among them), every first step (`changes`, `logs`, `graph`), every
action (`commands.actions`) and every report hook; readers (help, usage, buttons, permissions, alert
routes, runbook files, re-checks) take them from `current()`, the catalogue in force. Declarations
import `commands.registry` (for `@check`); they never import this module.

`BUILT_IN` is what the code declares, never changed after the imports below. Runbook files
(commands/runbook/symptoms.py) add symptoms and extend built-in targets by building a new
`Catalogue` from `BUILT_IN` and putting it in force (`put_in_force`: one reference swapped, no
await): a reader that took a catalogue keeps a consistent one, and a reload changes no registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import commands.actions
import commands.changes
import commands.checks
import commands.graph
import commands.logs  # noqa: F401  (each package registers its declarations on import)
from commands.actions.registry import ACTIONS, ActionSpec
from commands.registry import CHECKS, FIRST_STEPS, REPORT_HOOKS, CheckSpec, Registry, ReportHook

FIRST_STEPS.order(["changes", "graph", "logs"])  # as help lists the verbs, whichever package loaded first


@dataclass(frozen=True)
class Catalogue:
    """Every declaration in force: check targets, first steps (`changes`, `logs`, `graph`),
    remediations and report hooks (in declaration order)."""

    checks: Registry[CheckSpec]
    first_steps: Registry[CheckSpec]
    actions: Registry[ActionSpec]
    report_hooks: Mapping[str, ReportHook]


BUILT_IN = Catalogue(CHECKS, FIRST_STEPS, ACTIONS, MappingProxyType(REPORT_HOOKS))
_in_force = BUILT_IN


def current() -> Catalogue:
    """The catalogue in force: `BUILT_IN`, or the one the runbook files last put in force."""
    return _in_force


def put_in_force(catalogue: Catalogue) -> None:
    """Make `catalogue` the one every reader sees from now on (a runbook reload's swap)."""
    global _in_force
    _in_force = catalogue


__all__ = ["BUILT_IN", "Catalogue", "current", "put_in_force"]
