"""Helpers shared by the benchmarks: test-bed targets and percentiles."""

from __future__ import annotations

import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def testbed_env() -> dict[str, str]:
    """The test bed's targets (the bed must be up: scripts/testbed up), read as the tests read them."""
    from tests.support.processes import testbed_env

    return testbed_env()


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def summary(values: list[float], unit: str = "ms", scale: float = 1000) -> str:
    v = [x * scale for x in values]
    return (
        f"n={len(v)} p50={pct(v, 50):.1f}{unit} p99={pct(v, 99):.1f}{unit} "
        f"max={max(v):.1f}{unit} mean={statistics.mean(v):.1f}{unit}"
    )
