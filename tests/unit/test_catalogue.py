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


def test_a_runbook_reload_builds_a_new_catalogue_and_leaves_the_declarations_alone(tmp_path):
    """A reload puts a new catalogue value in force (`commands.catalogue.current()`); the built-in
    declarations are never changed, so a reader holding the catalogue it started with keeps a
    consistent set while a reload swaps the one in force."""
    from commands import catalogue
    from commands.config import ChecksConfig
    from commands.runbook import symptoms

    config = ChecksConfig()
    built_in = catalogue.BUILT_IN.checks.names()
    (tmp_path / "billing.yaml").write_text(
        "symptoms:\n  - name: billing-webhooks\n    title: Payment webhooks failing\n    section: Payments\n"
        "    probes:\n      - {id: up, kind: sql, query: 'SELECT 1', warning: 5}\n"
        "extend:\n  - target: deadlocks\n    probes:\n      - {id: waiting, kind: sql, query: 'SELECT 1', warning: 5}\n"
    )
    before = catalogue.current()
    loaded, problems = symptoms.read(tmp_path, config)
    assert problems == []
    try:
        symptoms.apply(loaded, config, tmp_path)
        now = catalogue.current()
        assert now is not before and "billing-webhooks" in now.checks.names()
        assert now.checks.get("deadlocks") is not catalogue.BUILT_IN.checks.get("deadlocks")
        assert catalogue.BUILT_IN.checks.names() == built_in  # the declarations as they were
        assert "billing-webhooks" not in before.checks.names()  # the catalogue a reader held: unchanged
        assert before.checks.get("deadlocks") is catalogue.BUILT_IN.checks.get("deadlocks")
    finally:
        symptoms.apply(symptoms.LoadResult(), config)
    assert catalogue.current().checks.names() == built_in


def test_readers_take_the_registries_from_the_catalogue():
    """Only the declarations (and the catalogue) touch the raw registries of commands/registry.py
    and commands/actions/registry.py; every reader asks `commands.catalogue.current()`."""
    import ast

    declaring = {"commands/registry.py", "commands/actions/registry.py", "commands/catalogue.py"}
    raw = {"CHECKS", "ACTIONS", "REPORT_HOOKS"}
    found = []
    for pkg in ("bot", "commands", "escalation"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = str(path.relative_to(ROOT))
            if rel in declaring:
                continue
            for n in ast.walk(ast.parse(path.read_text())):
                if isinstance(n, ast.ImportFrom) and n.module in ("commands.registry", "commands.actions.registry"):
                    found += [f"{rel}:{n.lineno} {a.name}" for a in n.names if a.name in raw]
                if isinstance(n, ast.ImportFrom) and n.module == "commands.catalogue":
                    found += [f"{rel}:{n.lineno} {a.name}" for a in n.names if a.name in raw | {"FIRST_STEPS"}]
    # commands/checks/__init__.py orders the targets it declares; commands/actions/__init__.py re-exports;
    # the terminal's one-check path (bot/cli.py `_fast_check`, not taken with runbook files) and the
    # runner's report hooks, which it runs, must not import every check (what importing the catalogue is)
    allowed = ("commands/checks/__init__.py", "commands/actions/__init__.py", "bot/cli.py", "commands/runner.py")
    assert sorted(f for f in found if not f.startswith(allowed)) == []
