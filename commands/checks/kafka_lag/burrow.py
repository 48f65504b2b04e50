"""Consumer-lag evaluation: LinkedIn Burrow's vocabulary, with its flaws fixed.

Burrow (https://github.com/linkedin/Burrow/wiki/Consumer-Lag-Evaluation-Rules) judges each
partition from a window of its last commits. Kafka hands out no commit timestamps, so alp
learns by sampling: every sample records, per partition, the committed offset (None while an
assigned partition has none), the log-end offset, the lag then, and whether the group had live
members. Rules, per partition, first match wins:

1. no commit  an assigned partition with no committed offset: WARN while it has lag (counted
              from the log start), OK only while its log is empty. Burrow never sees such a
              partition (it reads commits); `kafka-consumer-groups` shows it with offset "-".
              Departure: a consumer that reads without committing would re-read (or skip)
              everything after a restart, so it is never called OK.
   beyond end a committed offset past the log end (the topic was deleted and re-created, or
              its log truncated): WARN. `kafka-consumer-groups` shows a negative lag; the
              consumer's next fetch is out of range and it resets by `auto.offset.reset`,
              skipping or re-reading messages. Burrow reports a lag of zero.
2. OK         the lag now is within `allowed_lag`. Departure: Burrow lets a lag of zero
              *anywhere* in the window excuse any lag now, so a group caught up once and then
              abandoned stays OK until ten new commits push that sample out (never, once its
              consumers are gone). Only the lag now counts here; rule 6 keeps Burrow's
              tolerance for bursts, for live consumers only.
3. REWIND     a committed offset went down within the window (a reset or a rewinding consumer).
4. STOP       the group has no live members and the partition has lag. Departure: Burrow infers
              STOP from the age of the last commit against the window's span; alp reads the
              membership from the coordinator (DescribeGroups or, for KIP-848 groups,
              ConsumerGroupDescribe), which says it outright, however long ago the group was
              caught up.
5. STALL      live members, lag, and the committed offset has not moved for at least
              `stall_window_s`. UNKNOWN ("window too short") when it has not moved but the
              window spans less than that. Departure: Burrow calls STALL whenever the window's
              offsets are equal, which a few seconds of sampling says of any consumer that
              commits every few seconds (auto-commit: every 5 s); alp says it cannot tell.
6. OK         live, the lag was within `allowed_lag` earlier in the window and the offset has
              moved since (Burrow's burst tolerance, kept for live consumers).
7. WARN       the offset moves but the lag never decreased across the window (Burrow's rule).
8. OK         otherwise: the consumer is catching up.

The window is the last `window` samples (Burrow: the last 10 commits). Departure: Kafka gives
no commit times, and a window of commits never moves for a group that stopped committing;
samples keep coming whether or not the group commits, so every rule above sees the present.
UNKNOWN is the one word added to Burrow's: "could not tell" is never OK.

Severity: STOP, STALL and REWIND are critical, WARN a warning, UNKNOWN "could not tell".
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple


class LagStatus(StrEnum):
    OK = "OK"
    WARN = "WARN"
    UNKNOWN = "UNKNOWN"
    STALL = "STALL"
    STOP = "STOP"
    REWIND = "REWIND"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {
    LagStatus.OK: 0,
    LagStatus.WARN: 1,
    LagStatus.UNKNOWN: 2,
    LagStatus.STALL: 3,
    LagStatus.STOP: 4,
    LagStatus.REWIND: 5,
}


class Sample(NamedTuple):  # a tuple: a bot holds window x partitions of them
    """One partition as seen at `timestamp` (seconds since the epoch).

    `offset` is the committed offset, None for an assigned partition with no commit (its lag
    then counts from the log start); `live` says whether the group had members."""

    offset: int | None
    timestamp: float
    lag: int
    end_offset: int
    live: bool = True


def evaluate(window: Sequence[Sample], allowed_lag: int = 0, stall_window_s: float = 60.0) -> LagStatus:
    """The status of one partition from its window of samples, oldest first (rules above)."""
    if not window:
        return LagStatus.UNKNOWN
    now = window[-1]
    if now.offset is None:
        return LagStatus.WARN if now.lag > 0 else LagStatus.OK
    if now.offset > now.end_offset:
        return LagStatus.WARN
    if now.lag <= allowed_lag:
        return LagStatus.OK
    committed = [s for s in window if s.offset is not None]
    if any(b.offset < a.offset for a, b in itertools.pairwise(committed)):  # type: ignore[operator]
        return LagStatus.REWIND
    if not now.live:
        return LagStatus.STOP
    since = next(s for s in committed if s.offset == now.offset)  # first sample at today's offset
    still_for = now.timestamp - since.timestamp
    if still_for >= stall_window_s:
        return LagStatus.STALL
    if since is committed[0]:
        return LagStatus.UNKNOWN  # never moved, but not watched long enough to say STALL
    if any(s.live and s.lag <= allowed_lag for s in committed[: committed.index(since)]):
        return LagStatus.OK
    if all(b.lag >= a.lag for a, b in itertools.pairwise(committed)):
        return LagStatus.WARN
    return LagStatus.OK


def lag_seconds(window: Sequence[Sample]) -> float | None:
    """Roughly how far behind in time: the lag now over the produce rate seen in the window
    (None when nothing was produced in it, so no rate is known)."""
    if not window or window[-1].lag <= 0:
        return 0.0
    first, last = window[0], window[-1]
    elapsed = last.timestamp - first.timestamp
    produced = last.end_offset - first.end_offset
    if elapsed <= 0 or produced <= 0:
        return None
    return last.lag / (produced / elapsed)


@dataclass
class PartitionWindow:
    """The sliding window of one (group, topic, partition): its last `size` samples."""

    size: int
    samples: deque[Sample] = field(init=False)

    def __post_init__(self) -> None:
        self.samples = deque(maxlen=self.size)

    def observe(self, sample: Sample) -> None:
        self.samples.append(sample)

    @property
    def span_s(self) -> float:
        return self.samples[-1].timestamp - self.samples[0].timestamp if self.samples else 0.0

    @property
    def fill(self) -> str:
        return f"{len(self.samples)}/{self.size}"
