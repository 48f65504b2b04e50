"""Nothing is wired after construction (ARCHITECTURE.md): every part the bot runs with is a
constructor argument, in the order `bot/server.py` `serve` builds them. Read from the source (AST):
a hook assigned onto an object after it was built, a list of hooks appended to from outside, or a
side table hanging things on an object would each be found here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "escalation", "commands")
# the bot's long-lived parts, by the names the code gives them where it builds or holds them
WIRED = {"app", "directory", "escalator", "esc", "delivery", "notifier", "intake", "flow", "handoffs", "messages"}
WIRED |= {"store", "timers", "owed", "lease", "outbox", "watcher", "runbook_watcher", "calendars", "sync"}
MUTATORS = {"append", "extend", "insert", "add", "update", "setdefault", "__setitem__"}


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text())) for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]


def _owner(node: ast.expr) -> str | None:
    """`x` of `x.y` (or of `x.y.z`)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _held_by_self(t: ast.Attribute) -> bool:
    """`self.part.attr`."""
    return isinstance(t.value, ast.Attribute) and isinstance(t.value.value, ast.Name) and t.value.value.id == "self"


def _late_wiring(tree: ast.AST) -> list[str]:
    """`part.attr = …` and `part.attr.append(…)` on a part the code holds but did not just build as `self`."""
    found = []
    for n in ast.walk(tree):
        targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AugAssign) else []
        for t in targets:
            # `escalator.run_check = …`, or `self.delivery.recheck = …` (a part held by self)
            if isinstance(t, ast.Attribute) and (_owner(t) in WIRED or _held_by_self(t)):
                found.append(f"{n.lineno}: {ast.unparse(n)[:90]}")
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr in MUTATORS
            and isinstance(n.func.value, ast.Attribute)
            and _owner(n.func.value) in WIRED
        ):
            found.append(f"{n.lineno}: {ast.unparse(n)[:90]}")
    return found


def test_no_part_is_wired_after_it_was_built() -> None:
    found = [f"{p.relative_to(ROOT)}:{line}" for p, tree in _modules() for line in _late_wiring(tree)]
    assert found == []


def test_the_composition_function_only_builds_and_passes() -> None:
    """In `serve`, nothing built is changed afterwards: no attribute set, no hook list appended to
    (aiohttp's cleanup contexts, the start/stop order, are the one list it fills)."""
    tree = ast.parse((ROOT / "bot" / "server.py").read_text())
    [serve] = [n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef) and n.name == "serve"]
    found = []
    for n in ast.walk(serve):
        if isinstance(n, ast.Assign | ast.AugAssign):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            found += [ast.unparse(n)[:90] for t in targets if isinstance(t, ast.Attribute)]
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in MUTATORS:
            if ast.unparse(n.func.value) != "web_app.cleanup_ctx":
                found.append(ast.unparse(n)[:90])
    assert found == []


def test_no_side_table_hangs_things_on_an_object() -> None:
    """A WeakKeyDictionary keyed by a part (a directory per escalator) is wiring nobody can see."""
    found = [
        f"{p.relative_to(ROOT)}:{n.lineno}"
        for p, tree in _modules()
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute | ast.Name) and getattr(n, "attr", getattr(n, "id", "")) == "WeakKeyDictionary"
    ]
    assert found == []
