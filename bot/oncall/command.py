"""`oncall …` parsed into a request (pure: no Slack, no store).

oncall [--schedule NAME] [--at ISO8601]                 who is on call, until when, next
oncall override <schedule> <user> [--from T] (--until T | --for 8h) [--reason TEXT]
oncall take [<schedule>] [--for 4h | --until T]         the asker covers from now
oncall undo <override id>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from commands.params import UsageError
from commands.registry import did_you_mean
from escalation.oncall.config import USER_ID

SUBS = ("override", "take", "undo", "week", "swap")
USAGE = (
    "oncall [--schedule NAME] [--at ISO8601] | oncall week [--schedule NAME] [--at ISO8601] | oncall override <schedule> <user> [--from TIME] "
    "(--until TIME | --for 8h) | oncall take [<schedule>] [--for 4h] | oncall swap [<schedule>] [--from TIME] "
    "(--until TIME | --for 8h) | oncall undo <override id>"
)
FIRST_YEAR, LAST_YEAR = 1970, 2199  # a time outside them is a mistake (and beyond what datetime can shift)
MAX_ID = 2**31 - 1  # the store's INTEGER id (r0007_oncall)
_DURATION = re.compile(r"([1-9][0-9]{0,3})([mhdw])")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_USER = re.compile(rf"<@({USER_ID})(?:\|[^>]*)?>|({USER_ID})|(@[a-z0-9][a-z0-9._-]{{0,79}})", re.IGNORECASE)


@dataclass(frozen=True)
class OncallCommand:
    """`sub`: "now" (who is on call at `at`, None: now, on `schedule`, None: all), "override",
    "take" or "undo" (`override_id`). Times are aware; `until` None with `duration` None: not given."""

    schedule: str | None = None
    at: datetime | None = None
    sub: str = "now"
    user: str | None = None
    start: datetime | None = None
    until: datetime | None = None
    duration: timedelta | None = None
    reason: str = ""
    override_id: int | None = None


def parse_at(value: str, option: str = "--at") -> datetime:
    """ISO 8601 (`2026-11-01T01:30-04:00`, `2026-11-01 05:30Z`, `2026-11-01`); without an offset: UTC."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise UsageError(
            f"`{option} {value[:40]}` is not an ISO 8601 time, e.g. 2026-11-01T09:00 (UTC) or 2026-11-01T09:00-05:00"
        ) from None
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise UsageError(
            f"`{option} {value[:40]}`: a time between {FIRST_YEAR} and {LAST_YEAR} (rotations are computed from their start)"
        )
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def parse_duration(value: str) -> timedelta:
    m = _DURATION.fullmatch(value.strip().lower())
    if m is None:
        raise UsageError(f"`--for {value[:40]}` is not a duration like 90m, 8h, 2d or 1w")
    return timedelta(seconds=int(m.group(1)) * _UNIT[m.group(2)])


def parse_user(value: str) -> str:
    """A Slack user id, or `@handle` (resolved by the caller, who can ask Slack)."""
    m = _USER.fullmatch(value.strip())
    if m is None:
        raise UsageError(f"`{value[:40]}` is not a Slack user (an @mention or a user id like U012AB3CD)")
    return m.group(1) or (m.group(2).upper() if m.group(2) else m.group(3))


def parse_override_id(words: list[str]) -> int:
    """`undo <id>`: an override's number (1 .. MAX_ID), `#` allowed before it; UsageError otherwise."""
    digits = words[0].lstrip("#").lstrip("0") if len(words) == 1 else ""
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 10 and int(digits) <= MAX_ID):
        raise UsageError("`oncall undo <override id>`: the number the override's confirmation gave (1, 2, …)")
    return int(digits)


def _options(args: list[str], allowed: tuple[str, ...], usage: str) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        if not word.startswith("--"):
            rest.append(word)
            i += 1
            continue
        name, eq, inline = word.partition("=")
        if name not in allowed:
            raise UsageError(
                f"`oncall` does not take `{word[:40]}` here.{did_you_mean(name, allowed)} Usage: `{usage}`"
            )
        if name in values:
            raise UsageError(f"`{name}` is given twice: give it once. Usage: `{usage}`")
        if eq:
            values[name], i = inline, i + 1
        elif i + 1 < len(args):
            values[name], i = args[i + 1], i + 2
        else:
            raise UsageError(f"`{name}` needs a value. Usage: `{usage}`")
    return values, rest


def _span(values: dict[str, str]) -> tuple[datetime | None, datetime | None, timedelta | None]:
    start = parse_at(values["--from"], "--from") if "--from" in values else None
    until = parse_at(values["--until"], "--until") if "--until" in values else None
    duration = parse_duration(values["--for"]) if "--for" in values else None
    if until is not None and duration is not None:
        raise UsageError("give either `--until TIME` or `--for DURATION`, not both")
    if start is not None and until is not None and until <= start:
        raise UsageError(
            f"`--until {values['--until'][:40]}` is not after `--from {values['--from'][:40]}`: a span ends after it starts"
        )
    return start, until, duration


def parse_oncall(args: list[str]) -> OncallCommand:
    """The words after `oncall`; UsageError with the closest word for a mistake."""
    if args and not args[0].startswith("--"):
        sub, rest = args[0].lower(), args[1:]
        if sub not in SUBS:
            raise UsageError(f"unknown oncall command `{args[0][:40]}`.{did_you_mean(sub, SUBS)} Usage: `{USAGE}`")
        if sub == "week":
            values, words = _options(rest, ("--schedule", "--at"), USAGE)
            if words:
                raise UsageError(f"`oncall week` does not take `{words[0][:40]}`. Usage: `{USAGE}`")
            at = parse_at(values["--at"]) if "--at" in values else None
            name = values.get("--schedule")
            return OncallCommand(name.strip().lower() if name else None, at, "week")
        if sub == "undo":
            return OncallCommand(sub="undo", override_id=parse_override_id(rest))
        allowed = ("--from", "--until", "--for", "--reason") if sub in ("override", "swap") else ("--until", "--for")
        values, words = _options(rest, allowed, USAGE)
        start, until, duration = _span(values)
        if sub == "override":
            if len(words) != 2:
                raise UsageError("`oncall override <schedule> <user> [--from TIME] (--until TIME | --for 8h)`")
            if until is None and duration is None:
                raise UsageError("an override needs its end: `--until TIME` or `--for 8h`")
            return OncallCommand(
                words[0].lower(),
                None,
                "override",
                parse_user(words[1]),
                start,
                until,
                duration,
                values.get("--reason", ""),
            )
        if sub == "swap":
            if len(words) > 1 or (until is None and duration is None):
                raise UsageError("`oncall swap [<schedule>] [--from TIME] (--until TIME | --for 8h)`")
            return OncallCommand(
                words[0].lower() if words else None,
                None,
                "swap",
                None,
                start,
                until,
                duration,
                values.get("--reason", ""),
            )
        if len(words) > 1:
            raise UsageError("`oncall take [<schedule>] [--for 4h | --until TIME]`")
        return OncallCommand(words[0].lower() if words else None, None, "take", None, None, until, duration)
    values, words = _options(args, ("--schedule", "--at"), USAGE)
    if words:
        raise UsageError(f"`oncall` does not take `{words[0][:40]}`. Usage: `{USAGE}`")
    at = parse_at(values["--at"]) if "--at" in values else None
    schedule = values.get("--schedule")
    return OncallCommand(schedule.strip().lower() if schedule else None, at)
