"""Patterns a user or a foreign system supplies (`--grep`, alert routes): RE2, linear time.

Python's `re` backtracks: `(a+)+$` against one long line runs for minutes and, holding the GIL,
stops the whole bot. RE2 (the `google-re2` package, the engine of Prometheus and Alertmanager)
matches in time linear in the text whatever the pattern, and bounds a pattern's memory
(`MAX_MEM`). The price: no back-references and no look-arounds; such a pattern is refused with
RE2's reason, as a usage error, never run with another engine.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

MAX_MEM = 8 << 20  # bytes one compiled pattern may use; beyond that RE2 refuses it ("pattern too large")

CACHED = 256  # compiled patterns kept (routes and recent --grep): at most CACHED x MAX_MEM, in practice KBs each
Pattern = Any  # re2._Regexp: .search(text), .fullmatch(text) -> match or None


class PatternError(ValueError):
    """The pattern is not one RE2 runs; the message says why (`invalid perl operator: (?=`)."""


@functools.lru_cache(maxsize=CACHED)
def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Pattern:
    """The compiled RE2 pattern (the last `CACHED` kept). Raises PatternError with RE2's reason."""
    options = re2.Options()
    options.log_errors = False  # the reason goes to the user, not as a line on stderr
    options.case_sensitive = not ignore_case
    options.max_mem = MAX_MEM
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        why = err.args[0] if err.args else err
        why = why.decode(errors="replace") if isinstance(why, bytes) else str(why)
        hint = " (RE2 syntax: no back-references or look-arounds)" if "perl operator" in why or "escape" in why else ""
        raise PatternError(f"{why}{hint}") from None
