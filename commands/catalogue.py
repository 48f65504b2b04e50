"""The catalogue: the one place that loads every declaration, so what a registry holds never depends
on what a process happened to import first. Importing this module registers every check target
(`commands.checks`, `check oncall` among them), every first step (`changes`, `logs`, `graph`), every
action (`commands.actions`) and every report hook; readers (help, usage, buttons, permissions, alert
routes, runbook files) take the registries from here. Declarations import `commands.registry` (for
`@check`); they never import this module.
"""

from __future__ import annotations

import commands.actions
import commands.changes
import commands.checks
import commands.graph
import commands.logs  # noqa: F401  (each package registers its declarations on import)
from commands.actions.registry import ACTIONS
from commands.registry import CHECKS, FIRST_STEPS, REPORT_HOOKS

FIRST_STEPS.order(["changes", "graph", "logs"])  # as help lists the verbs, whichever package loaded first

__all__ = ["ACTIONS", "CHECKS", "FIRST_STEPS", "REPORT_HOOKS"]
