"""`alp oncall …` in the terminal. `--json`, for every subcommand, prints one object on stdout:
{"target": "oncall", "data": …} (now/week: escalation.oncall.view's shape; override/undo:
bot.oncall.json_shapes's; null when nothing was answered: a usage or configuration error), with
"error": {"kind", "message", "exit_code"} whenever the exit code is not 0.

Overrides are read from the state store; a store that cannot be opened is said on stderr and the
answer rests on the rotations alone (also said in each schedule's `note`; a gap of the rotations is
then unknown, not "nobody": an override may cover it).

Exit codes, one rule for every subcommand (the README's, as `alp check` and `alp do`): 0 answered
or done; 1 refused (the reason on stderr or in the preview); 3 could not see (the state store, a
calendar, the overrides: what is shown may be incomplete); 64 a usage mistake."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.oncall.command import OncallCommand
from bot.oncall.json_shapes import error_data, preview_data
from bot.oncall.text import oncall_answer
from bot.render.escape import terminal
from bot.settings import Settings
from commands.params import UsageError
from escalation.oncall.calendars import Calendars
from escalation.oncall.directory import Directory, UnknownSchedule

EXIT_OK, EXIT_REFUSED, EXIT_UNSEEN, EXIT_USAGE = 0, 1, 3, 64


def _zone() -> ZoneInfo | None:
    """The terminal's zone from TZ, else None: each schedule's own zone."""
    try:
        return ZoneInfo(os.environ["TZ"]) if os.environ.get("TZ") else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


@dataclass
class Said:
    """One subcommand's answer: its exit code, words for stdout (`out`) and for stderr (`err`, shown
    as `alp: …`), and the `--json` data; an exit code other than 0 with `err` is also `error` in JSON."""

    code: int
    out: str = ""
    err: str = ""
    data: dict[str, Any] | None = None
    unseen: str = ""  # what could not be seen, when the words already say it (JSON's error.message)


def _emit(said: Said, as_json: bool) -> int:
    """Print `said` as words or as one JSON object on stdout (`bot.oncall.json_shapes`); its exit code."""
    if said.err:
        print(f"alp: {terminal(said.err)}", file=sys.stderr)
    if as_json:
        obj: dict[str, Any] = {"target": "oncall", "data": said.data}  # null when nothing was answered
        if said.code != EXIT_OK:
            obj["error"] = error_data(said.err or said.unseen or said.out, said.code)
        print(json.dumps(obj, indent=2))
    elif said.out:
        print(terminal(said.out))
    return said.code


async def _change(request: OncallCommand, settings: Settings, yes: bool) -> Said:
    """`alp oncall override|undo`: a preview, applied with --yes; audited as the terminal's user."""
    from bot.oncall.override import ask_of
    from escalation.oncall.override_flow import apply, preview, preview_text, undo
    from escalation.oncall.overrides import OverrideStore
    from escalation.state.audit import AuditLog
    from escalation.state.db import Database, StateStoreError

    actor = os.environ.get("USER", "terminal")  # as `alp do`'s: `alp changes` says where (changes.audit.made_by)
    if request.sub in SLACK_ONLY:
        raise UsageError(SLACK_ONLY[request.sub])
    try:
        db = Database(settings.state_url, pooled=False)
    except StateStoreError as err:
        return Said(EXIT_UNSEEN, err=str(err))
    try:
        store = OverrideStore(db, settings.timeouts.probe_s)
        calendars = await _calendars(settings)
        directory = Directory(settings.oncall, store, calendars.shifts, cover=calendars.cover)
        audit = AuditLog(db)
        if request.sub == "undo":
            n = request.override_id or 0
            undone = await undo(directory, store, audit, n, actor, admin=True)
            data = {"sub": "undo", "override": n, "done": undone.done, "text": _text(undone.text)}
            if undone.done:
                return Said(EXIT_OK, _text(undone.text), data=data)
            return Said(EXIT_UNSEEN if undone.unseen else EXIT_REFUSED, err=_text(undone.text), data=data)
        ask = await ask_of(request, settings, directory, actor)
        shown = await preview(directory, ask)
        zone = _zone()
        words = _text(preview_text(shown, {u: zone for u in shown.involved} if zone else {}))
        if shown.refusal:
            code = EXIT_UNSEEN if shown.unseen else EXIT_REFUSED
            return Said(code, err=shown.refusal, data=preview_data(shown))
        if not yes:
            return Said(EXIT_OK, words + "\n(a preview: add --yes to apply it)", data=preview_data(shown))
        done = await apply(directory, store, audit, ask, actor, admin=True)
        if isinstance(done, str):
            return Said(EXIT_REFUSED, words, err=done, data={**preview_data(shown), "refusal": done})
        return Said(
            EXIT_OK,
            f"{words}\napplied: override #{done.id} (undo: alp oncall undo {done.id})",
            data=preview_data(shown, done.id),
        )
    except (StateStoreError, TimeoutError, OSError) as err:
        return Said(EXIT_UNSEEN, err=_store_problem(err, settings))
    finally:
        await db.close()


SLACK_ONLY = {  # a usage mistake in the terminal
    "take": "`take` is for Slack (it covers as you); in the terminal: `alp oncall override <schedule> <user> …`",
    "swap": "a swap is asked in Slack, where a teammate takes it with a button; in the terminal name who covers: "
    "`alp oncall override <schedule> <user> --from TIME (--until TIME | --for 8h)`",
}


def _store_problem(err: BaseException, settings: Settings) -> str:
    """The state store's failure in words (a driver error named as alp's state store)."""
    from escalation.state.db import as_state_store_error

    named = as_state_store_error(err, settings.state_url)
    if named is not None:
        return str(named)
    return f"alp's state store (ALP_STATE_URL) did not answer: {type(err).__name__}: {err}"


def _text(mrkdwn: str) -> str:
    from bot.cli import _plain

    return _plain(mrkdwn)


async def _answer(request: OncallCommand, settings: Settings, png: str | None = None) -> Said:
    from escalation.oncall.overrides import OverrideStore
    from escalation.state.db import Database

    db: Database | None = None
    unread: str | None = None
    path = settings.state_url.removeprefix("sqlite:///")
    if settings.oncall.schedules and (path == settings.state_url or os.path.exists(path)):  # noqa: ASYNC240 (one stat)
        try:
            db = Database(settings.state_url, pooled=False)
        except Exception as err:
            unread = str(err) or type(err).__name__
            print(f"alp: overrides not read: {terminal(unread)}", file=sys.stderr)
    try:
        calendars = await _calendars(settings)
        directory = Directory(
            settings.oncall,
            OverrideStore(db, settings.timeouts.probe_s) if db else None,
            calendars.shifts,
            unread,
            cover=calendars.cover,
        )
        text, data = await oncall_answer(settings, directory, request, _zone())
    finally:
        if db is not None:
            await db.close()
    if png is not None:
        _draw_week(data, png)
    unseen = [
        f"{s['name']}: {s.get('error') or s.get('note')}" for s in data["schedules"] if s.get("error") or s.get("note")
    ]
    if unseen:  # the words say it in each schedule's lines; JSON says it in `error` too
        return Said(EXIT_UNSEEN, _text(text), data=data, unseen="; ".join(unseen))
    return Said(EXIT_OK, _text(text), data=data)


def _draw_week(data: dict[str, Any], path: str) -> None:
    """`oncall week --png FILE`: the week's picture, in TZ's zone, else the one schedule's (as the
    words), else UTC (where it went said on stderr)."""
    from bot.cli import _write_png
    from bot.render.week_chart import week_png

    zone = _zone()
    zones = {s["time_zone"] for s in data["schedules"]}
    picture = week_png(data, zone.key if zone else zones.pop() if len(zones) == 1 else "UTC")
    if picture is None:
        print("alp: no picture drawn: no schedule has shifts to show", file=sys.stderr)
        return
    _write_png(picture, path)


async def _calendars(settings: Settings) -> Calendars:
    """Imported calendars read once (people matched through Slack when a bot token is set)."""
    people = None
    if any(not s.layers for s in settings.oncall.schedules) and settings.slack_bot_token is not None:
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.oncall.people import SlackPeople

        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
        people = SlackPeople(client)
    cals = Calendars(settings.oncall, people)
    await cals.refresh_all()
    return cals


def run_oncall(
    request: OncallCommand, settings: Settings, as_json: bool, yes: bool = False, png: str | None = None
) -> int:
    """The exit code (the module's rule): 0 ok, 1 refused, 3 could not see, 64 a usage mistake.
    `png`: where `oncall week` draws its picture (`--png FILE`).

    The one place a usage mistake becomes 64: the words (`bot.oncall.command`, before this), and what
    only the configuration or the clock can tell (an unknown schedule or person, a span already over)
    raised as UsageError or UnknownSchedule from anywhere below."""
    try:
        if png is not None and request.sub != "week":
            raise UsageError("`--png FILE` draws `oncall week`: `alp oncall week --png week.png`")
        if request.sub not in ("now", "week"):
            said = asyncio.run(_change(request, settings, yes))
        else:
            said = asyncio.run(_answer(request, settings, png))
    except (UsageError, UnknownSchedule) as err:
        said = Said(EXIT_USAGE, err=str(err))
    return _emit(said, as_json)


def usage_error(message: str, as_json: bool) -> int:
    """A mistake in the words (found by the router before a request exists), said as every other."""
    from bot.oncall.command import USAGE

    said = message if as_json or "Usage:" in message else f"{message}\nUsage: `alp {USAGE}`"
    return _emit(Said(EXIT_USAGE, err=said), as_json)


def config_error(message: str, as_json: bool) -> int:
    """A configuration that cannot be read (`bot.settings.ConfigError`'s words), said as every other
    usage error: exit 64, and with --json the object on stdout (the words on stderr as well)."""
    return _emit(Said(EXIT_USAGE, err=message.removeprefix("alp: ")), as_json)
