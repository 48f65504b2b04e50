"""Durations as people type them: `30m`, `6h`, `2d`, `90s` (or plain seconds)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$", re.I)
MAX_S = 30 * 86400


def parse_duration(value: object) -> int:
    """`6h` -> 21600 seconds. Raises ValueError (shown to the user) for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"`{value}` is not a duration: use e.g. 30m, 6h, 2d")
        seconds = int(m[1]) * _UNITS[(m[2] or "s").lower()]
    if not 0 < seconds <= MAX_S:
        raise ValueError(f"`{value}`: a duration between 1s and {MAX_S // 86400}d")
    return seconds


def format_duration(seconds: float) -> str:
    """21600 -> `6h`, 5400 -> `90m`, 45 -> `45s`: the largest whole unit."""
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def ago(seconds: float) -> str:
    """How long ago, in words an engineer reads at a glance: `12 min ago`, `3 h ago`."""
    s = max(0, int(seconds))
    if s < 90:
        return f"{s} s ago"
    if s < 5400:
        return f"{round(s / 60)} min ago"
    if s < 2 * 86400:
        return f"{round(s / 3600)} h ago"
    return f"{round(s / 86400)} d ago"


def hours_text(seconds: float) -> str:
    """A span as people read it: `2.5 h` (hours to a tenth, `8 h` when whole), `45 min` under an
    hour, `1 min` at least for any span that is not empty. The one wording of hours on call
    (previews, coverage, the week, swaps), so no `2.4999999 h` reaches a reader."""
    if seconds < 3600 - 30:
        return f"{max(1, round(seconds / 60)) if seconds > 0 else 0} min"
    return f"{round(seconds / 3600, 1):g} h"


Duration = Annotated[int, BeforeValidator(parse_duration)]
"""Seconds, parsed from `30m`, `6h`, `2d`."""
