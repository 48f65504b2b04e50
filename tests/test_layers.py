"""The layers import one way only (ARCHITECTURE.md): bot -> {commands, escalation}, escalation ->
commands. Every import statement counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"commands": {"bot", "escalation"}, "escalation": {"bot"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_never_imports_the_layers_above_it(layer):
    wrong = {
        str(p.relative_to(ROOT)): sorted(imported_packages(p) & FORBIDDEN[layer])
        for p in sorted((ROOT / layer).rglob("*.py"))
    }
    assert {k: v for k, v in wrong.items() if v} == {}
