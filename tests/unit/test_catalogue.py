"""The catalogue (every check target, first step, action and report hook) does not depend on what a
process happened to import before: each reader sees every declaration the bot offers, in a fresh
interpreter that imported nothing else (CI runs the whole suite in one process, so a test that saw
`check oncall` only because an earlier test imported bot/ passed or failed by order)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.support.processes import ROOT

# what a process holds: the names in each registry, after its imports
DUMP = """
import importlib, json, pkgutil, sys
for name in sys.argv[1:]:
    if name == "*":  # every module of the three packages: whatever any of them declares
        for pkg in ("commands", "escalation", "bot"):
            mod = importlib.import_module(pkg)
            for info in pkgutil.walk_packages(mod.__path__, pkg + "."):
                if ".migrations" not in info.name:
                    importlib.import_module(info.name)
    else:
        importlib.import_module(name)
from commands.registry import CHECKS, FIRST_STEPS, REPORT_HOOKS
from commands.actions.registry import ACTIONS
print(json.dumps({"checks": CHECKS.names(), "steps": FIRST_STEPS.names(), "actions": ACTIONS.names(),
                  "hooks": list(REPORT_HOOKS)}))
"""


def held_after(*imports: str) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", DUMP, *imports], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_fresh_interpreter_importing_only_the_catalogue_sees_every_declaration_the_bot_offers():
    everything = held_after("*")
    assert "oncall" in everything["checks"] and {"changes", "logs", "graph"} <= set(everything["steps"])
    catalogue = held_after("commands.catalogue")
    assert catalogue == everything  # the same names in the same order: help lists them as declared


def test_help_alone_lists_every_check_target_and_step():
    """`help` is read by a process that imported the router and nothing else (the terminal's `alp help`)."""
    everything = held_after("*")
    code = "from bot.router import help_text; print(help_text())"
    shown = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    for name in [*everything["checks"], *everything["steps"], *everything["actions"]]:
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", shown.stdout), name


def test_an_alert_route_to_check_oncall_is_accepted_in_a_fresh_interpreter():
    """The bot's settings are read before anything is served: a route may name any check target."""
    code = (
        "from commands.alerts import AlertRoute\n"
        "print(AlertRoute.model_validate({'match': {'alertname': 'OnCallGap'}, 'check': 'oncall'}).check)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "oncall", out.stderr[-2000:]
