"""An alerting rule's expression, read apart: the PromQL behind an alert and the threshold it compares with.

Prometheus puts the rule's `expr` in each alert's `generatorURL` (`…/graph?g0.expr=<expr>&g0.tab=1`).
A rule of the usual shape `<series> <op> <number>` (or `<number> <op> <series>`; `op` one of
`> >= < <= == !=`, with or without `bool`) splits into the series to draw and the threshold to mark;
anything else (`a > 1 and b < 2`, `absent(up)`, a comparison of two series) has no single threshold
and is drawn as it is (its samples exist only while the condition holds).

`state()` judges a series against the condition from its samples alone: still over the threshold at
its latest sample, back under since the first sample after the last one over, or no recent sample.
Pure functions, no I/O.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_FLIP = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "==": "==", "!=": "!="}
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SET_OPS = re.compile(r"\b(and|or|unless)\b", re.IGNORECASE)


def expr_of(generator_url: str) -> str | None:
    """The rule expression in a Prometheus `generatorURL` (its `g0.expr`), or None."""
    try:
        found = parse_qs(urlsplit(generator_url).query).get("g0.expr")
    except ValueError:
        return None
    return found[0].strip() if found and found[0].strip() else None


@dataclass(frozen=True)
class Condition:
    """`base op threshold`: the series drawn, and when it is over its threshold ("firing" side)."""

    base: str
    op: str
    threshold: float

    def over(self, value: float) -> bool:
        """True where the rule's comparison holds for `value` (NaN never holds)."""
        return not math.isnan(value) and _OPS[self.op](value, self.threshold)

    def text(self) -> str:
        """`> 1,000`, `> 0.25`, `> 1,234.5` (never e-notation)."""
        t = self.threshold
        return f"{self.op} {t:g}" if abs(t) < 1000 else f"{self.op} {t:,.6g}" if t != int(t) else f"{self.op} {t:,.0f}"


def _top_level_comparisons(expr: str) -> list[tuple[int, str]]:
    """(index, operator) of each comparison outside (), [], {} and string literals."""
    out: list[tuple[int, str]] = []
    depth, i, quote = 0, 0, ""
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and c in "<>=!":
            two = expr[i : i + 2]
            if two in (">=", "<=", "==", "!="):
                out.append((i, two))
                i += 2
                continue
            if c in "<>":
                out.append((i, c))
            # "=~", "!~" and a lone "=" only occur inside {} (matchers)
        i += 1
    return out


def split_threshold(expr: str) -> Condition | None:
    """`histogram_quantile(…) > 0.5` -> Condition(base='histogram_quantile(…)', op='>', threshold=0.5);
    None when the expression is not one comparison of a series with a number at its top level."""
    comps = _top_level_comparisons(expr)
    if len(comps) != 1 or _SET_OPS.search(_outside_brackets(expr)):
        return None
    at, op = comps[0]
    left, right = expr[:at].strip(), expr[at + len(op) :].strip()
    if right.startswith("bool "):
        right = right[5:].strip()
    if _NUMBER.match(right) and left:
        return Condition(left, op, float(right))
    if _NUMBER.match(left) and right:
        return Condition(right, _FLIP[op], float(left))
    return None


def _outside_brackets(expr: str) -> str:
    """The expression with everything inside brackets and strings removed (to find top-level words)."""
    out, depth, quote = [], 0, ""
    for c in expr:
        if quote:
            quote = "" if c == quote else quote
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


@dataclass(frozen=True)
class State:
    """A series judged against its rule: `firing` (latest sample over), `under` (back under since
    `since`, unix s), `unknown` (no sample within `stale_s` of now: `since` is the last sample's time)."""

    kind: str  # firing | under | unknown
    value: float | None
    since: float | None
    over_spans: list[tuple[float, float]]  # (start, end) unix s where the condition held
    held_in_window: bool = True  # False: "under" with no sample over the threshold in the whole window


def over_spans(points: list[tuple[float, float]], cond: Condition | None, step_s: float) -> list[tuple[float, float]]:
    """Spans (unix s) where the condition held; without a threshold, where the expression had samples
    (a filtering rule returns samples only while it holds). Gaps longer than two steps end a span."""
    spans: list[tuple[float, float]] = []
    start = prev = None
    for t, v in points:
        held = cond.over(v) if cond is not None else not math.isnan(v)
        if held and start is not None and prev is not None and t - prev <= 2 * step_s:
            prev = t
            continue
        if start is not None and prev is not None:
            spans.append((start, prev + step_s / 2))
            start = prev = None
        if held:
            start = prev = t
    if start is not None and prev is not None:
        spans.append((start, prev + step_s / 2))
    return spans


def state(
    points: list[tuple[float, float]], cond: Condition | None, now: float, step_s: float, stale_s: float | None = None
) -> State:
    """Judged from the samples, never from the alert's own status: the latest sample older than
    `stale_s` (default three steps and a minute) is "unknown"; over the threshold is "firing"; else
    "under" since the first sample after the last one over (the window's start when none was over in it)."""
    spans = over_spans(points, cond, step_s)
    if not points or now - points[-1][0] > (max(3 * step_s, 60) if stale_s is None else stale_s):
        if cond is None and spans:  # a filtering rule: no sample now means the condition stopped holding
            return State("under", None, spans[-1][1], spans)
        return State("unknown", None, points[-1][0] if points else None, spans)
    t_last, v_last = points[-1]
    if cond is not None and math.isnan(v_last):
        return State("unknown", v_last, t_last, spans)
    held = cond.over(v_last) if cond is not None else True
    if held:
        return State("firing", v_last, spans[-1][0] if spans else t_last, spans)
    assert cond is not None
    last_over = max((t for t, v in points if cond.over(v)), default=None)
    if last_over is None:
        return State("under", v_last, points[0][0], spans, held_in_window=False)
    return State("under", v_last, min(t for t, _ in points if t > last_over), spans)
