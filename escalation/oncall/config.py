"""On-call schedules as configuration: `[[oncall.schedules]]` in the TOML file, or
`ALP_ONCALL__SCHEDULES` as JSON (the contract row "on-call schedules" in DESIGN.md).
People (`users`, `admins`) are Slack user ids and `group` a user-group id, by the one rule of the
commands (USER_ID): anything else is refused at load, with the id meant when it shows.

A schedule has an IANA `time_zone`, the Slack user group kept in step (`group`, an `S…` id), a
`channel` for its handoff reports, and either ordered `layers` (a later layer covers an earlier one
wherever it has a shift) or an iCal source (`ical_url` / `ical_file`). Every mistake is a
validation error naming the field (an unknown zone, an empty rotation, a turn that is not `12h`/`1d`/`2w`).
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TURN = re.compile(r"([1-9][0-9]{0,3})([hdw])")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
# A Slack user id: U (or W, Enterprise Grid) then letters and digits, at least one digit; Slack
# gives no length (old workspaces' ids are short). The digit keeps words like UTC or WORK out.
USER_ID = r"[UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{2,20}"
SLACK_USER_ID = re.compile(USER_ID)
GROUP_ID = r"S(?=[A-Z0-9]*[0-9])[A-Z0-9]{2,20}"  # a user group's id, the same shape after S
SLACK_GROUP_ID = re.compile(GROUP_ID)
_MENTION = re.compile(r"<(?:@|!subteam\^)([A-Za-z0-9]+)(?:\|[^>]*)?>")  # <@U…|name>, <!subteam^S…|@handle>
_FIND_USER = "the member ID from the person's Slack profile (⋮ → Copy member ID)"
_FIND_GROUP = "the S… at the end of the group's link in Slack (People → User groups), or `usergroups.list`"


def _meant(value: str) -> str:
    """What an id written as a mention or in lower case stands for (upper case, mention removed)."""
    m = _MENTION.fullmatch(value)
    return (m.group(1) if m else value).upper()


def user_id(value: str) -> str:
    """A person in configuration: a Slack user id (USER_ID, the rule of the commands and calendars);
    ValueError saying what was meant otherwise (handles and e-mails are not looked up at load)."""
    v = value.strip()
    if SLACK_USER_ID.fullmatch(v):
        return v
    meant = _meant(v)
    if SLACK_USER_ID.fullmatch(meant):
        hint = f"Did you mean `{meant}`?"
    elif SLACK_GROUP_ID.fullmatch(meant):
        hint = f"`{meant}` is a user group's id; a person's starts with U or W: {_FIND_USER}"
    else:
        hint = f"A handle or an e-mail is not looked up in configuration: give {_FIND_USER}"
    raise ValueError(f"{v[:60]!r} is not a Slack user id (U… or W…, with a digit). {hint}")


def group_id(value: str | None) -> str | None:
    """A user group in configuration: a Slack user-group id (`S…`); ValueError with a hint otherwise."""
    if value is None:
        return None
    v = value.strip()
    if SLACK_GROUP_ID.fullmatch(v):
        return v
    meant = _meant(v)
    if SLACK_GROUP_ID.fullmatch(meant):
        hint = f"Did you mean `{meant}`?"
    elif SLACK_USER_ID.fullmatch(meant):
        hint = f"`{meant}` is a person's id; a user group's starts with S: {_FIND_GROUP}"
    else:
        hint = f"A group's @handle is not its id: give {_FIND_GROUP}"
    raise ValueError(f"{v[:60]!r} is not a Slack user group id (S…, with a digit). {hint}")


SlackUserId = Annotated[str, AfterValidator(user_id)]


def parse_turn(text: str) -> timedelta:
    """`12h`, `1d`, `2w` -> the turn's length in local wall-clock time. ValueError otherwise."""
    m = _TURN.fullmatch(text.strip().lower())
    if m is None:
        raise ValueError(f"turn {text!r}: a number and h, d or w (e.g. 12h, 1d, 1w)")
    return timedelta(hours=int(m.group(1)) * _UNIT_HOURS[m.group(2)])


def parse_hhmm(text: str) -> time:
    m = _HHMM.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"{text!r} is not a local time HH:MM (00:00-23:59)")
    return time(int(m.group(1)), int(m.group(2)))


def parse_hours(text: str) -> tuple[time, time]:
    """`"09:00-17:00"` -> (start, end), local; an end at or before the start runs past midnight."""
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"hours {text!r}: HH:MM-HH:MM, e.g. 09:00-17:00")
    start, end = parse_hhmm(parts[0]), parse_hhmm(parts[1])
    if start == end:
        raise ValueError(f"hours {text!r}: an empty window (use no `hours` for all day)")
    return start, end


class Layer(BaseModel):
    """One rotation: `users` take turns of length `turn`, handing off at `handoff` local time; the
    first user's turn starts on `start` at `handoff`. `days`/`hours` restrict it (local time)."""

    model_config = ConfigDict(extra="forbid")  # a mistyped key is refused, never ignored

    users: list[SlackUserId] = Field(description="Slack user ids (U…/W…), in turn order")
    turn: str = Field("1w", description="Turn length: 12h, 1d, 1w, …")
    handoff: str = Field("09:00", description="HH:MM local wall-clock time of each handoff")
    start: date = Field(description="ISO date the first user's turn starts (at `handoff`)")
    days: list[str] | None = Field(None, description='Only on these weekdays: ["mon", …]')
    hours: str | None = Field(None, description='Only within this local window: "09:00-17:00"')
    name: str = Field("", description="Shown in previews; default `layer N`")

    @field_validator("users")
    @classmethod
    def _users(cls, v: list[str]) -> list[str]:
        users = [u.strip() for u in v if u.strip()]
        if not users:
            raise ValueError("a rotation needs at least one user (Slack user id)")
        return users

    @field_validator("turn")
    @classmethod
    def _turn(cls, v: str) -> str:
        parse_turn(v)
        return v.strip().lower()

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        parse_hhmm(v)
        return v.strip()

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        days = [d.strip().lower()[:3] for d in v]
        bad = [d for d in days if d not in DAYS]
        if bad or not days:
            raise ValueError(f"days: each one of {', '.join(DAYS)} (got {v!r})")
        return days

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str | None) -> str | None:
        if v is not None:
            parse_hours(v)
        return v

    @property
    def turn_length(self) -> timedelta:
        return parse_turn(self.turn)

    @property
    def handoff_time(self) -> time:
        return parse_hhmm(self.handoff)

    @property
    def window(self) -> tuple[time, time] | None:
        return parse_hours(self.hours) if self.hours else None


class Schedule(BaseModel):
    """One on-call schedule (DESIGN.md, "on-call schedules")."""

    model_config = ConfigDict(extra="forbid")  # a mistyped key is refused, never ignored

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="e.g. devops, platform")
    time_zone: str = Field("UTC", description="IANA zone of handoffs and restrictions, e.g. Europe/Berlin")
    group: str | None = Field(None, description="Slack user-group id (S…) kept equal to who is on call")
    channel: str | None = Field(None, description="Where handoff reports go")
    layers: list[Layer] = Field(default_factory=list, description="Later layers cover earlier ones")
    ical_url: str | None = Field(None, description="https:// calendar to import instead of layers")
    ical_file: str | None = Field(None, description="A calendar file to import instead of layers")
    admins: list[SlackUserId] = Field(default_factory=list, description="Slack user ids who may override anyone")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}: an IANA name such as America/New_York") from None
        return v

    @field_validator("group")
    @classmethod
    def _group(cls, v: str | None) -> str | None:
        return group_id(v)

    @field_validator("ical_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith("https://"):
            raise ValueError("ical_url must be an https:// URL")
        return v

    @model_validator(mode="after")
    def _source(self) -> Schedule:
        sources = sum(bool(s) for s in (self.layers, self.ical_url, self.ical_file))
        if sources != 1:
            raise ValueError(f"schedule {self.name!r}: give either `layers` or `ical_url` or `ical_file` (exactly one)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class OncallSettings(BaseModel):
    """`[oncall]`: the schedules, the feed's token, and how often a calendar is read again."""

    model_config = ConfigDict(extra="forbid")  # a mistyped key is refused, never ignored

    schedules: list[Schedule] = Field(default_factory=list)
    feed_token: SecretStr | None = Field(None, description="ALP_ONCALL__FEED_TOKEN: secret of GET /oncall/<name>.ics")
    ical_refresh_s: float = Field(900, ge=30, description="How often an imported calendar is read again")
    ical_timeout_s: float = Field(10, gt=0, le=120, description="One calendar download's limit")
    handoff_health: bool = Field(True, description="Handoff reports include a `health` run's CRITICAL/UNKNOWN")
    handoff_report_within_s: float = Field(
        12 * 3600, ge=0, description="A handoff missed while down is still reported if it is this recent"
    )

    @field_validator("schedules")
    @classmethod
    def _unique(cls, v: list[Schedule]) -> list[Schedule]:
        names = [s.name for s in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"schedule names must be unique (twice: {', '.join(dup)})")
        return v

    def get(self, name: str) -> Schedule | None:
        return next((s for s in self.schedules if s.name == name), None)
