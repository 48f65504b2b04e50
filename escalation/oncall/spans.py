"""The one way a span of time is written in a zone's wall clock (week lines, overlaps, previews,
handoff reports): `Sat 28 Mar 09:00 CET - Sun 29 Mar 09:00 CEST`, `Sun 28 Mar 00:30 CET-05:00 CEST`.

Each end carries its own zone when the two differ (a DST switch inside: "00:30-05:00 CEST" alone
would put the start an hour off); the end always does; the end's date is left out when it is the
start's day."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_span(start: datetime, end: datetime, zone: ZoneInfo, sep: str = "-") -> str:
    """[start, end) (aware datetimes) in `zone`'s wall clock; `sep` between the ends."""
    a, b = start.astimezone(zone), end.astimezone(zone)
    first = f"{a:%a %d %b %H:%M}" + (f" {a.tzname()}" if a.tzname() != b.tzname() else "")
    last = f"{b:%H:%M}" if a.date() == b.date() else f"{b:%a %d %b %H:%M}"
    return f"{first}{sep}{last} {b.tzname()}"
