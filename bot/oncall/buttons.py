"""`/alp oncall override|take|undo` in Slack: a private preview with Apply / Cancel, authorized at
the click (escalation.oncall.override_flow decides), confirmed with an Undo button.

Each person's hours are shown in their own zone (`users.info` `tz`). The Apply button carries the
asked override, signed and expiring like the remediation buttons; nothing is stored until the click.
Applying or undoing wakes the handoff scheduler (the user group follows at once).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.oncall.command import OncallCommand
from bot.oncall.override import ask_of
from bot.oncall.people import SlackPeople
from bot.oncall.slack import asker_zone, oncall_reply
from bot.settings import Settings
from bot.slack.signing import TokenError, key_from, sign, verify
from commands.durations import hours_text
from commands.params import UsageError
from escalation.oncall.directory import Directory
from escalation.oncall.override_flow import OverrideAsk, apply, preview, preview_text, undo, utc_span
from escalation.oncall.spans import local_span
from escalation.state.audit import AuditLog

log = logging.getLogger(__name__)
APPLY, CANCEL, UNDO, TAKE = "alp_oncall_apply", "alp_oncall_cancel", "alp_oncall_undo", "alp_oncall_take"


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def _message(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"text": text[:3000], "blocks": blocks}


class OncallButtons:
    """The Slack side of overrides, on the bot's directory, state store and audit log."""

    def __init__(self, settings: Settings, directory: Directory, on_change: Callable[[], Awaitable[None]]) -> None:
        assert directory.store is not None
        self.settings, self.directory, self.store = settings, directory, directory.store
        self.audit = AuditLog(directory.store.db)
        self.on_change = on_change
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "alp"
        self.key = key_from(secret)

    async def zones(self, client: AsyncWebClient, users: set[str]) -> dict[str, ZoneInfo]:
        """Each person's zone where Slack says it (the others are shown in the schedule's)."""
        out: dict[str, ZoneInfo] = {}
        for u in users:
            zone, note = await asker_zone(client, u)
            if not note:
                out[u] = zone
        return out

    async def ask(self, request: OncallCommand, client: AsyncWebClient, user: str) -> dict[str, Any]:
        """The private answer to `oncall override|take|undo` (message kwargs)."""
        if request.sub == "undo":
            return await self._undo(request.override_id or 0, user)
        if request.sub == "swap":
            return await self._swap(request, user)
        try:
            asked = await ask_of(request, self.settings, self.directory, user, SlackPeople(client).by_handle)
        except UsageError as err:
            return _message(f":no_entry: {err}", [])
        shown = await preview(self.directory, asked)
        text = preview_text(shown, await self.zones(client, shown.involved))
        if shown.refusal:
            return _message(text, [])
        token = sign(asked.as_dict(), self.key, self.settings.actions.request_ttl_s)
        return _message(text, [_button("Apply", APPLY, token, "primary"), _button("Cancel", CANCEL, "-")])

    async def click_apply(self, token: str, user: str) -> dict[str, Any]:
        try:
            asked = OverrideAsk.from_dict(verify(token, self.key))
        except (TokenError, ValueError, KeyError) as err:
            return _message(f":no_entry: {err}", [])
        done = await apply(self.directory, self.store, self.audit, asked, user)
        if isinstance(done, str):
            return _message(f":no_entry: <@{user}>: {done}", [])
        await self._changed()
        return _message(
            f":white_check_mark: override #{done.id} applied by <@{user}>: <@{done.user}> covers `{done.schedule}` "
            f"{utc_span(done.start, done.end)}",
            [_button("Undo", UNDO, str(done.id))],
        )

    async def _swap(self, request: OncallCommand, user: str) -> dict[str, Any]:
        """A swap request for the channel: the asker's hours in the span, with a Take button."""
        try:
            asked = await ask_of(request, self.settings, self.directory, user)
        except UsageError as err:
            return _message(f":no_entry: {err}", [])
        shown = await preview(self.directory, asked)
        mine = shown.losers.get(user)
        if shown.refusal or not mine:
            why = shown.refusal or f"you are not on call on `{asked.schedule}` then: nothing to swap"
            return _message(f":no_entry: {why}", [])
        hours = hours_text(sum((e - s).total_seconds() for s, e in mine))
        token = sign(asked.as_dict(), self.key, max(self.settings.actions.request_ttl_s, 86400))
        zone = ZoneInfo(self.directory.schedule(asked.schedule).time_zone)
        text = (
            f":raising_hand: <@{user}> asks for cover on `{asked.schedule}`: "
            f"{local_span(asked.start, asked.end, zone, ' - ')} ({hours} of their shift). "
            "Whoever takes it is previewed and recorded."
        )
        return {**_message(text, [_button("Take it", TAKE, token, "primary")]), "response_type": "in_channel"}

    async def click_take(self, token: str, user: str) -> dict[str, Any]:
        """A teammate takes a swap: refused to the asker, and if the asker is no longer on call then."""
        try:
            data = verify(token, self.key)
            asked = OverrideAsk.from_dict(data)
        except (TokenError, ValueError, KeyError) as err:
            return _message(f":no_entry: {err}", [])
        if user == asked.requester:
            return _message(":no_entry: a swap is taken by someone else than who asked for it", [])
        taking = OverrideAsk(asked.schedule, user, asked.start, asked.end, asked.requester, asked.reason)
        shown = await preview(self.directory, taking)
        if asked.requester not in shown.losers:
            return _message(f":no_entry: <@{asked.requester}> is no longer on call then: the swap is void", [])
        done = await apply(self.directory, self.store, self.audit, taking, user)
        if isinstance(done, str):
            return _message(f":no_entry: {done}", [])
        await self._changed()
        return _message(
            f":handshake: <@{user}> took <@{asked.requester}>'s `{asked.schedule}` hours "
            f"{utc_span(done.start, done.end)} (override #{done.id})",
            [_button("Undo", UNDO, str(done.id))],
        )

    async def _undo(self, override_id: int, user: str) -> dict[str, Any]:
        undone = await undo(self.directory, self.store, self.audit, override_id, user)
        if undone.done:
            await self._changed()
            return _message(f":leftwards_arrow_with_hook: {undone.text}", [])
        return _message(f":no_entry: {undone.text}", [])

    async def _changed(self) -> None:
        try:
            await self.on_change()
        except Exception:
            log.exception("after an on-call override")

    def register(self, app: AsyncApp) -> None:
        @app.action(APPLY)
        async def applied(ack: Any, body: dict[str, Any], respond: Any) -> None:
            await ack()
            msg = await self.click_apply(str(body["actions"][0].get("value") or ""), body["user"]["id"])
            await respond(replace_original=False, response_type="ephemeral", **msg)

        @app.action(TAKE)
        async def taken(ack: Any, body: dict[str, Any], respond: Any) -> None:
            await ack()
            msg = await self.click_take(str(body["actions"][0].get("value") or ""), body["user"]["id"])
            replace = "took" in msg["text"]
            await respond(replace_original=replace, response_type="in_channel" if replace else "ephemeral", **msg)

        @app.action(CANCEL)
        async def cancelled(ack: Any, respond: Any) -> None:
            await ack()
            await respond(delete_original=True)

        @app.action(UNDO)
        async def undone(ack: Any, body: dict[str, Any], respond: Any) -> None:
            await ack()
            value = str(body["actions"][0].get("value") or "0")
            msg = await self._undo(int(value) if value.isdigit() else 0, body["user"]["id"])
            await respond(replace_original=False, response_type="ephemeral", **msg)


async def oncall_verb(
    settings: Settings, buttons: OncallButtons, request: OncallCommand, client: AsyncWebClient, user: str
) -> tuple[dict[str, Any], Callable[[], Awaitable[None]] | None]:
    """`/alp oncall …` answered (after the ack): respond()'s arguments, and what to do once they
    are sent (the week's picture), if anything."""
    if request.sub in ("now", "week"):
        text, then = await oncall_reply(settings, buttons.directory, request, client, user)
        return {"response_type": "ephemeral", "text": text}, then
    return {"response_type": "ephemeral", **await buttons.ask(request, client, user)}, None
