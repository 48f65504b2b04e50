"""Consumer-lag evaluation after LinkedIn Burrow's sliding-window rules.

Each partition keeps a window of recent commits (offset, time, lag then). Evaluation, first
match wins (https://github.com/linkedin/Burrow/wiki/Consumer-Lag-Evaluation-Rules):

- OK      lag is within `allowed_lag` now, or was anywhere in the window
- REWIND  a committed offset went down
- STOP    the time since the last commit is longer than the window's span
- STALL   the offset did not move while lag stayed above zero
- WARN    lag never decreased across the window
- OK      otherwise (the consumer is catching up)

Kafka does not hand out commit timestamps, so the bot learns them by sampling: a new
committed offset is a commit seen at that sample's time, and while the group has live
members an unchanged offset counts as a re-commit (what auto-commit does). A group with no
members therefore stops adding commits and turns STOP once its lag outlives the window.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class LagStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    STALL = "STALL"
    STOP = "STOP"
    REWIND = "REWIND"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {LagStatus.OK: 0, LagStatus.WARN: 1, LagStatus.STALL: 2, LagStatus.STOP: 3, LagStatus.REWIND: 4}


@dataclass(frozen=True)
class Commit:
    """One committed offset as seen at `timestamp` (seconds), with the lag at that time."""

    offset: int
    timestamp: float
    lag: int
    end_offset: int


def evaluate(window: Sequence[Commit], lag_now: int, now: float, allowed_lag: int = 0) -> LagStatus:
    """Burrow's status of one partition from its commit window and its lag now."""
    window = list(window)
    if not window or lag_now <= allowed_lag or any(c.lag <= allowed_lag for c in window):
        return LagStatus.OK
    pairs = list(itertools.pairwise(window))
    if any(b.offset < a.offset for a, b in pairs):
        return LagStatus.REWIND
    span = window[-1].timestamp - window[0].timestamp
    if now - window[-1].timestamp > span:
        return LagStatus.STOP
    if all(c.offset == window[0].offset for c in window):
        return LagStatus.STALL
    if all(b.lag >= a.lag for a, b in pairs):
        return LagStatus.WARN
    return LagStatus.OK


def lag_seconds(window: Sequence[Commit], lag_now: int) -> float | None:
    """Roughly how far behind in time: lag divided by the produce rate seen in the window."""
    if lag_now <= 0:
        return 0.0
    window = list(window)
    if len(window) < 2:
        return None
    elapsed = window[-1].timestamp - window[0].timestamp
    produced = window[-1].end_offset - window[0].end_offset
    if elapsed <= 0 or produced <= 0:
        return None
    return lag_now / (produced / elapsed)


@dataclass
class PartitionWindow:
    """The sliding window of one (group, topic, partition)."""

    size: int
    commits: deque[Commit] = field(init=False)

    def __post_init__(self) -> None:
        self.commits = deque(maxlen=self.size)

    def observe(self, offset: int, end_offset: int, timestamp: float, group_active: bool) -> None:
        """Record a sample: a moved offset is a commit; an unchanged one only while active."""
        lag = max(end_offset - offset, 0)
        last = self.commits[-1] if self.commits else None
        if last is None or offset != last.offset or group_active:
            self.commits.append(Commit(offset, timestamp, lag, end_offset))

    @property
    def fill(self) -> str:
        return f"{len(self.commits)}/{self.size}"
