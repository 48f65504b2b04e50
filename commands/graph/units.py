"""The unit of a PromQL expression, read from Prometheus' metric naming conventions, and values in it.

Units (https://prometheus.io/docs/practices/naming/): `*_seconds*` is seconds, `*_bytes*` bytes,
`rate()`/`irate()` of a counter (`*_total`, a histogram's or summary's `*_bucket`/`*_count`) per
second, the counter itself and its `increase()` a count (a plain number, even in a `_seconds`
family); a division of two rates of the same counter family is a ratio. Anything else is a plain
number ("").
"""

from __future__ import annotations

import math
import re

_RATE = re.compile(r"\b(i?rate|increase)\s*\(")
_PER_SECOND = re.compile(r"\bi?rate\s*\(")  # increase() is a count over its range, not per second
_COUNTED = re.compile(r"_(total|count|bucket)\b")  # counters: how many, never seconds or bytes
_MEAN = re.compile(r"_(seconds|bytes)_sum\b.*/.*_\1_count\b", re.DOTALL)


def unit_of(expr: str) -> str:
    """ "s", "B", "/s", "ratio" or "" (a plain number). A summary's or histogram's `_sum / _count`
    is the mean in its base unit (seconds, bytes), never a rate."""
    mean = _MEAN.search(expr)
    if mean:
        return "s" if mean.group(1) == "seconds" else "B"
    if "histogram_quantile" in expr and "_seconds" in expr:
        return "s"
    if "_bytes" in expr:
        return "B"
    if "/" in expr.replace("//", "") and _RATE.search(expr) and "_total" in expr and "_seconds" not in expr:
        return "ratio"
    counted = _COUNTED.search(expr)
    if "_seconds" in expr and not counted:
        return "s"
    if _PER_SECOND.search(expr) and counted:
        return "/s"
    return ""


def fmt_value(v: float | None, unit: str) -> str:
    """A value in its unit for people: 812ms, 1.5s, 68,600s, 12.3MiB, 4.2/s, 3.10%; NaN and ±Inf said as such."""
    if v is None or math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if unit == "s":
        return f"{v * 1000:.0f}ms" if abs(v) < 1 else f"{_num(v)}s"
    if unit == "B":
        for size, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(v) >= size:
                return f"{_num(v / size)}{name}"
        return f"{v:.0f}B"
    if unit == "ratio":
        return f"{v:.2%}"
    if unit == "/s":
        return f"{_num(v)}/s"
    return _num(v)


def number(v: float) -> str:
    """A plain number for people: 1,234 (never 1.23e+03), 12.5, 0.0031."""
    return _num(v)


def _num(v: float) -> str:
    """1,234 for large numbers (never 1.23e+03), 12.5 and 0.0031 for small ones."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def axis_label(unit: str) -> str:
    """The y-axis label of a unit."""
    return {"s": "seconds", "B": "bytes", "ratio": "ratio (1 = 100 %)", "/s": "per second"}.get(unit, "value")
