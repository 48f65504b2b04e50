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

from bot.oncall_override import ask_of
from bot.oncall_people import SlackPeople
from bot.oncall_request import OncallRequest
from bot.oncall_slack import asker_zone
from bot.settings import Settings
from bot.slack.signing import TokenError, key_from, sign, verify
from commands.params import UsageError
from escalation.oncall.directory import Directory
from escalation.oncall.override_flow import OverrideAsk, apply, preview, preview_text, undo
from escalation.state.audit import AuditLog

log = logging.getLogger(__name__)
APPLY, CANCEL, UNDO = "alp_oncall_apply", "alp_oncall_cancel", "alp_oncall_undo"


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

    async def ask(self, request: OncallRequest, client: AsyncWebClient, user: str) -> dict[str, Any]:
        """The private answer to `oncall override|take|undo` (message kwargs)."""
        if request.sub == "undo":
            return await self._undo(request.override_id or 0, user)
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
            f"{done.start:%Y-%m-%d %H:%M}-{done.end:%Y-%m-%d %H:%M} UTC",
            [_button("Undo", UNDO, str(done.id))],
        )

    async def _undo(self, override_id: int, user: str) -> dict[str, Any]:
        text = await undo(self.directory, self.store, self.audit, override_id, user)
        if "undone:" in text:
            await self._changed()
            return _message(f":leftwards_arrow_with_hook: {text}", [])
        return _message(f":no_entry: {text}", [])

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
