"""`oncall [--schedule NAME] [--at ISO8601]` parsed into a request (pure: no Slack, no store)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from commands.params import UsageError
from commands.registry import did_you_mean

OPTIONS = ("--schedule", "--at")
USAGE = "oncall [--schedule NAME] [--at ISO8601]"


@dataclass(frozen=True)
class OncallRequest:
    """Who is on call at `at` (None: now) on `schedule` (None: every schedule)."""

    schedule: str | None = None
    at: datetime | None = None


def parse_at(value: str) -> datetime:
    """ISO 8601 (`2026-11-01T01:30-04:00`, `2026-11-01 05:30Z`, `2026-11-01`); without an offset: UTC."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"`--at {value[:40]}` is not an ISO 8601 time, e.g. 2026-11-01T09:00 (UTC) or 2026-11-01T09:00-05:00"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def parse_oncall(args: list[str]) -> OncallRequest:
    """The words after `oncall`; UsageError with the closest option for a mistake."""
    values: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        name, eq, inline = word.partition("=")
        if name not in OPTIONS:
            hint = did_you_mean(name, OPTIONS) if name.startswith("-") else ""
            raise UsageError(f"`oncall` does not take `{word[:40]}`.{hint} Usage: `{USAGE}`")
        if eq:
            values[name], i = inline, i + 1
        elif i + 1 < len(args):
            values[name], i = args[i + 1], i + 2
        else:
            raise UsageError(f"`{name}` needs a value. Usage: `{USAGE}`")
    at = parse_at(values["--at"]) if "--at" in values else None
    schedule = values.get("--schedule")
    return OncallRequest(schedule.strip().lower() if schedule else None, at)
