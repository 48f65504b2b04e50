"""The remediation flow's people in Slack: who may run what (user IDs, user groups, '*'), and
the request's message (confirmation, approval, outcome, the check after), updated in place."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.render import action_blocks as ui
from bot.render.report_blocks import render_report
from bot.settings import Settings
from bot.slack.client import SLACK_ERRORS, deliver, reason
from commands.actions.refusal import Closed, NotDelivered
from commands.actions.registry import ActionSpec, Outcome, Preview, Risk
from commands.actions.request import ActionRequest
from commands.report import Report
from commands.runtime.cpu import off_loop

log = logging.getLogger(__name__)


class SlackAuthorizer:
    """Who may run which risk: Slack user IDs, user-group IDs (resolved and cached), or '*'."""

    two_person = True  # destructive actions need a second authorized person

    def __init__(self, settings: Settings, client: AsyncWebClient) -> None:
        self.settings, self.client = settings, client
        self._groups: dict[str, tuple[float, set[str]]] = {}

    def entries(self, risk: Risk) -> list[str]:
        """Allowed for `risk`: its own list plus the lists of every higher risk."""
        perms = self.settings.actions.permissions
        return [e for r in Risk if r.rank >= risk.rank for e in perms.get(r.value, [])]

    def describe(self, risk: Risk) -> str:
        shown = [
            ("everyone" if e == "*" else f"<!subteam^{e}>" if e.startswith("S") else f"<@{e}>")
            for e in self.entries(risk)
        ]
        return ", ".join(dict.fromkeys(shown)) or "nobody (set ALP_ACTIONS__PERMISSIONS)"

    async def allowed(self, user: str, risk: Risk) -> bool:
        for entry in self.entries(risk):
            if entry in ("*", user) or (entry.startswith("S") and user in await self._members(entry)):
                return True
        return False

    async def _members(self, group: str) -> set[str]:
        cached = self._groups.get(group)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        try:
            resp = await self.client.usergroups_users_list(usergroup=group)
            members: set[str] = set(resp.get("users", []))
        except SLACK_ERRORS as err:
            log.warning("cannot resolve user group %s: %s", group, reason(err))
            members = set()  # unresolvable: nobody gets in through it
        self._groups[group] = (time.monotonic() + self.settings.actions.group_cache_s, members)
        return members


class SlackFlowNotifier:
    """The flow's `FlowNotifier` in Slack. `token(data, ttl_s)` signs a button's value."""

    def __init__(
        self, settings: Settings, client: AsyncWebClient, authz: SlackAuthorizer, token: Callable[..., str]
    ) -> None:
        self.settings, self.client, self.authz, self.token = settings, client, authz, token

    async def previewed(self, spec: ActionSpec, params: dict[str, Any], pre: Preview) -> None:
        return None  # Slack shows the preview with the confirmation

    async def requested(self, spec: ActionSpec, req: ActionRequest) -> str | None:
        text, blocks = ui.confirmation(
            spec,
            req.row(),
            self.authz.describe(spec.risk),
            self.token({"r": req.id, "s": "confirm", "c": req.channel}),
            self.token({"r": req.id, "s": "cancel", "c": req.channel}),
            self.settings.actions.dry_run,
        )
        try:
            resp = await self.client.chat_postMessage(
                channel=req.channel, thread_ts=req.thread_ts, text=text, blocks=blocks
            )
        except SLACK_ERRORS as err:
            raise NotDelivered(reason(err)) from err
        return str(resp["ts"])

    async def posted(self, spec: ActionSpec, req: ActionRequest) -> None:
        full = ui.preview_attachment(req.preview.lines)
        if full and req.message_ts:  # the message names what fits and how many more: the file names everything
            await self.attach(req.channel, req.message_ts, full, f"request-{req.id}-preview.txt")

    async def awaiting_approval(self, spec: ActionSpec, req: ActionRequest) -> None:
        # the buttons outlive the approval window, so the flow (which knows the deadline) answers a late click
        ttl = self.settings.actions.request_ttl_s + self.settings.actions.approval_timeout_s
        bound = {"r": req.id, "c": req.channel}  # a click counts only in the request's own channel
        approve, cancel = self.token({**bound, "s": "approve"}, ttl), self.token({**bound, "s": "cancel"}, ttl)
        await self._update(req, *ui.awaiting_approval(spec, req.row(), self.authz.describe(spec.risk), approve, cancel))

    async def closed(self, spec: ActionSpec, req: ActionRequest, how: Closed, by: str) -> None:
        text = {
            Closed.EXPIRED: ":hourglass: expired; nothing was changed",
            Closed.APPROVAL_EXPIRED: ":hourglass: approval window expired; nothing was changed",
            Closed.CANCELLED: f":heavy_multiplication_x: cancelled by <@{by}>",
        }[how]
        await self._update(req, *ui.closed(spec, req.row(), text))

    async def finished(self, spec: ActionSpec, req: ActionRequest, outcome: Outcome) -> None:
        who = f"<@{req.confirmed_by}>" + (f", approved by <@{req.approver}>" if req.approver else "")
        undo = self.token({"u": req.id}) if req.undo else None  # a reference, no values
        await self._update(req, *ui.outcome_blocks(spec, req.row(), outcome, who, undo))
        full = ui.preview_attachment(ui.outcome_changes(outcome))
        if full and req.message_ts:  # the message says how many more: the file has them all
            await self.attach(req.channel, req.message_ts, full, f"request-{req.id}-outcome.txt")

    async def verified(self, spec: ActionSpec, req: ActionRequest, report: Report) -> None:
        msg = await off_loop(render_report, report)  # masking and Block Kit: CPU, off the loop
        out = await deliver(
            self.client,
            req.channel,
            f"After {spec.name}: {msg.text}",
            msg.blocks,
            thread_ts=req.message_ts,
            what=f"the check after request #{req.id}",
        )
        if out and msg.attachment and "ts" in out and req.message_ts:
            await self.attach(out["channel"], req.message_ts, msg.attachment, f"{report.target}-report.txt")

    async def interrupted(self, spec: ActionSpec, req: ActionRequest) -> None:
        who = f"<@{req.approver or req.confirmed_by}>"
        text = (
            f":warning: interrupted: the bot running it (confirmed by {who}) stopped mid-run, so what it changed "
            "is not known; the check below shows the state now. The target is free: it can be run again."
        )
        await self._update(req, *ui.closed(spec, req.row(), text))

    async def _update(self, req: ActionRequest, text: str, blocks: list[dict[str, Any]]) -> None:
        """The request's message shows its new state (or a new message in its thread says it)."""
        if req.message_ts:
            await deliver(
                self.client,
                req.channel,
                text,
                blocks,
                ts=req.message_ts,
                thread_ts=req.message_ts,
                what=f"request #{req.id}",
            )

    async def attach(self, channel: str, ts: str, content: str, filename: str) -> None:
        try:
            await self.client.files_upload_v2(channel=channel, thread_ts=ts, content=content, filename=filename)
        except SLACK_ERRORS as err:
            log.warning("cannot upload %s (%s); posting it as text", filename, reason(err))
            await deliver(self.client, channel, content[:35_000], thread_ts=ts, what=filename)
