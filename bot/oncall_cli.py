"""`alp oncall [--schedule NAME] [--at ISO8601]` in the terminal; `--json` prints
{"target": "oncall", "data": {"at", "schedules": [...]}} (escalation.oncall.view has the shape).

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
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.oncall_request import OncallCommand
from bot.oncall_text import oncall_answer
from bot.render.escape import terminal
from bot.settings import Settings
from escalation.oncall.calendars import Calendars
from escalation.oncall.directory import Directory, UnknownSchedule

EXIT_OK, EXIT_REFUSED, EXIT_UNSEEN, EXIT_USAGE = 0, 1, 3, 64


def _zone() -> ZoneInfo | None:
    """The terminal's zone from TZ, else None: each schedule's own zone."""
    try:
        return ZoneInfo(os.environ["TZ"]) if os.environ.get("TZ") else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


async def _change(request: OncallCommand, settings: Settings, yes: bool) -> int:
    """`alp oncall override|undo`: a preview, applied with --yes; audited as the terminal's user."""
    from bot.oncall_override import ask_of
    from commands.params import UsageError
    from escalation.oncall.override_flow import apply, preview, preview_text, undo
    from escalation.oncall.overrides import OverrideStore
    from escalation.state.audit import AuditLog
    from escalation.state.db import Database, StateStoreError

    actor = os.environ.get("USER", "terminal")  # as `alp do`'s: `alp changes` says where (changes.audit.made_by)
    if request.sub in SLACK_ONLY:
        print(f"alp: {SLACK_ONLY[request.sub]}", file=sys.stderr)
        return EXIT_USAGE
    try:
        db = Database(settings.state_url, pooled=False)
    except StateStoreError as err:
        print(f"alp: {terminal(str(err))}", file=sys.stderr)
        return EXIT_UNSEEN
    try:
        store = OverrideStore(db, settings.timeouts.probe_s)
        calendars = await _calendars(settings)
        directory = Directory(settings.oncall, store, calendars.shifts)
        audit = AuditLog(db)
        if request.sub == "undo":
            undone = await undo(directory, store, audit, request.override_id or 0, actor, admin=True)
            print(terminal(_text(undone.text)), file=sys.stdout if undone.done else sys.stderr)
            return EXIT_OK if undone.done else EXIT_UNSEEN if undone.unseen else EXIT_REFUSED
        try:
            ask = await ask_of(request, settings, directory, actor)
        except UsageError as err:
            print(f"alp: {terminal(str(err))}", file=sys.stderr)
            return EXIT_USAGE
        shown = await preview(directory, ask)
        zone = _zone()
        print(terminal(_text(preview_text(shown, {u: zone for u in shown.involved} if zone else {}))))
        if shown.refusal:
            return EXIT_UNSEEN if shown.unseen else EXIT_REFUSED
        if not yes:
            print("(a preview: add --yes to apply it)")
            return EXIT_OK
        done = await apply(directory, store, audit, ask, actor, admin=True)
        if isinstance(done, str):
            print(f"alp: {terminal(done)}", file=sys.stderr)
            return EXIT_REFUSED
        print(f"applied: override #{done.id} (undo: alp oncall undo {done.id})")
        return EXIT_OK
    except (StateStoreError, TimeoutError, OSError) as err:
        print(f"alp: {terminal(_store_problem(err, settings))}", file=sys.stderr)
        return EXIT_UNSEEN
    finally:
        await db.close()


SLACK_ONLY = {
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


async def _answer(request: OncallCommand, settings: Settings, as_json: bool, png: str | None = None) -> int:
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
            settings.oncall, OverrideStore(db, settings.timeouts.probe_s) if db else None, calendars.shifts, unread
        )
        try:
            text, data = await oncall_answer(settings, directory, request, _zone())
        except UnknownSchedule as err:
            print(f"alp: {terminal(str(err))}", file=sys.stderr)
            return EXIT_USAGE
    finally:
        if db is not None:
            await db.close()
    if as_json:
        print(json.dumps({"target": "oncall", "data": data}, indent=2))
    else:
        from bot.cli import _plain

        print(terminal(_plain(text)))
    if png is not None:
        _draw_week(data, png)
    unseen = unread is not None or any(s.get("error") or s.get("note") for s in data["schedules"])
    return EXIT_UNSEEN if unseen else EXIT_OK


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

        from bot.oncall_people import SlackPeople

        client = AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url)
        people = SlackPeople(client)
    cals = Calendars(settings.oncall, people)
    await cals.refresh_all()
    return cals


def run_oncall(
    request: OncallCommand, settings: Settings, as_json: bool, yes: bool = False, png: str | None = None
) -> int:
    """The exit code (the module's rule): 0 ok, 1 refused, 3 could not see, 64 a usage mistake.
    `png`: where `oncall week` draws its picture (`--png FILE`)."""
    if png is not None and request.sub != "week":
        print("alp: `--png FILE` draws `oncall week`: `alp oncall week --png week.png`", file=sys.stderr)
        return EXIT_USAGE
    if request.sub not in ("now", "week"):
        return asyncio.run(_change(request, settings, yes))
    return asyncio.run(_answer(request, settings, as_json, png))
