"""Remediations from Slack: Bolt glue around the flow (commands/actions/flow.py).

Parses clicks, commands and forms, verifies the signed button values (they expire and are bound
to their channel), calls the flow, and words its answers; the flow holds the rules
(authorization at click time, two-person rule, exactly once, locks, audit, verify).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.check_context import WIRING
from bot.metrics import Metrics
from bot.remediation.notifier import SlackAuthorizer, SlackFlowNotifier
from bot.render import action_blocks as ui
from bot.render.escape import clean, escape, inline
from bot.settings import Settings
from bot.slack.client import ephemeral, open_form
from bot.slack.incidents import form_value
from bot.slack.signing import TokenError, key_from, sign, verify
from commands.actions.flow import RemediationFlow
from commands.actions.ports import AlertsOf
from commands.actions.refusal import Click, Reason, Refusal
from commands.actions.runner import find
from commands.catalogue import current
from commands.masking.redact import redact, redact_data
from escalation.ladder.engine import Escalator
from escalation.state.request_log import StateRequestLog

log = logging.getLogger(__name__)

__all__ = ["SlackAuthorizer", "SlackRemediation", "register_action_handlers"]


class SlackRemediation:
    """The flow as Slack drives it. Replies are private texts (mrkdwn) or None."""

    def __init__(
        self,
        settings: Settings,
        client: AsyncWebClient,
        escalator: Escalator,
        metrics: Metrics | None = None,
        alerts_of: AlertsOf | None = None,
    ) -> None:
        self.settings, self.client, self.escalator, self.metrics = settings, client, escalator, metrics
        if settings.slack_signing_secret is None or not settings.slack_signing_secret.get_secret_value():
            raise ValueError("SLACK_SIGNING_SECRET is required: it signs the action buttons")
        self.key = key_from(settings.slack_signing_secret.get_secret_value())
        self.authz = SlackAuthorizer(settings, client)
        notifier = SlackFlowNotifier(settings, client, self.authz, self.token)
        self.flow = RemediationFlow(
            settings,
            StateRequestLog(escalator.store, escalator.engaged, escalator.verdict_recorded),
            self.authz,
            notifier,
            self._count,
            **WIRING,
            alerts_of=alerts_of,  # a remedy's re-check judges the incident's alert expressions too
        )

    def _count(self, action: str, event: str) -> None:
        if self.metrics is not None:
            self.metrics.actions.labels(action=action, event=event).inc()

    # ------------------------------------------------------------------ tokens
    def token(self, data: dict[str, Any], ttl_s: float | None = None) -> str:
        """A signed button value, valid `ttl_s` seconds (default: a request's time to live)."""
        return sign(data, self.key, self.settings.actions.request_ttl_s if ttl_s is None else ttl_s)

    def request_button(
        self, action: str, params: dict[str, Any], evidence: dict[str, str] | None = None, channel: str | None = None
    ) -> str | None:
        """A signed value for a suggestion's button, bound to the channel it is posted in and to the
        report it rests on (`evidence`: {"t": check target, "at": ISO time read}); None if no action
        has that name, or if its parameters hold a secret (no secret in a button)."""
        if not current().actions.get(action) or redact_data(params) != params:
            return None
        extra = {**({"c": channel} if channel else {}), **({"e": evidence} if evidence else {})}
        return self.token({"a": action, "p": params, **extra})

    async def superseded(self, channel: str, evidence: Any) -> str | None:
        """Why a remedy button must not act any more (its incident resolved, its check OK since), or None."""
        if not isinstance(evidence, dict) or not channel:
            return None
        try:
            read_at = datetime.fromisoformat(str(evidence.get("at")))
        except ValueError:
            return None
        return await self.escalator.superseded(channel, str(evidence.get("t")), read_at)

    async def audit(
        self, actor: str, event: str, action: str, params: dict[str, Any], result: str = "", channel: str | None = None
    ) -> None:
        """One audit row, masked (also for the alert silences' clicks)."""
        await self.flow.audit(actor, event, action, params, result, channel or "")

    # ------------------------------------------------------------------ request
    async def request(
        self,
        action: str,
        raw: dict[str, Any],
        user: str,
        channel: str,
        thread_ts: str | None = None,
        trigger_id: str | None = None,
    ) -> str | None:
        """Preview and post a confirmation (or open a form for what is missing); a private reply, if any."""
        if trigger_id and self._missing(action, raw):
            meta = json.dumps({"a": action, "p": raw, "c": channel, "t": thread_ts})
            return await open_form(self.client, trigger_id, ui.params_modal(find(action), raw, meta), action)
        out = await self.flow.request(action, raw, user, channel, thread_ts)
        return self.say(out) if isinstance(out, Refusal) else None

    @staticmethod
    def _missing(action: str, raw: dict[str, Any]) -> list[str]:
        spec = current().actions.get(action)
        if spec is None:
            return []
        return [n for n, f in spec.params.model_fields.items() if f.is_required() and n not in raw and n != "values"]

    # ------------------------------------------------------------------ clicks
    async def _request_id(self, token: str, step: Click, user: str, channel: str) -> int | str:
        try:
            data = verify(token, self.key)
        except TokenError as err:
            await self.audit(user, "refused", "?", {}, str(err))
            return str(err)
        if data.get("s") != step.value or not isinstance(data.get("r"), int):
            await self.audit(user, "refused", "?", {}, "button used for another step")
            return "this button does not do that (edited?)"
        if data.get("c") and data["c"] != channel:  # the button was copied into another channel's payload
            await self.audit(user, "refused", "?", {}, f"{step.value} of request {data['r']} clicked in {channel}")
            return ":no_entry: this button belongs to a request in another channel: nothing was changed"
        return int(data["r"])

    async def click(self, step: Click, token: str, user: str, channel: str = "") -> str | None:
        """Confirm, Approve or Cancel clicked in `channel`: the private reply, if any. A button
        counts only in the channel of its request."""
        rid = await self._request_id(token, step, user, channel)
        if isinstance(rid, str):
            return rid
        move = {Click.CONFIRM: self.flow.confirm, Click.APPROVE: self.flow.approve, Click.CANCEL: self.flow.cancel}[
            step
        ]
        out = await move(rid, user)
        return self.say(out) if isinstance(out, Refusal) else None

    def say(self, r: Refusal) -> str:
        """A refusal in the words of Slack (mrkdwn, escaped)."""
        req, risk = r.request, r.risk.value if r.risk else ""
        who_may = self.authz.describe(r.risk) if r.risk else ""
        if r.reason is Reason.INVALID:
            return escape(redact(r.detail))
        if r.reason is Reason.PREVIEW:
            return f":no_entry: {inline(ui.label(r.action, r.params))} refused: {escape(redact(r.detail))}"
        if r.reason is Reason.NOT_DELIVERED:
            return (
                f"I cannot post the confirmation here ({escape(r.detail)}): invite me with "
                "`/invite @alp`, or run it from the on-call channel. Nothing was changed."
            )
        if r.reason is Reason.UNAUTHORIZED and r.click is Click.CONFIRM:
            return f"You may not run {risk} actions. Who may: {who_may}. Nothing was changed."
        if r.reason is Reason.UNAUTHORIZED and r.click is Click.APPROVE:
            return f"You may not approve {risk} actions. Who may: {who_may}."
        if r.reason is Reason.UNAUTHORIZED and req is not None:
            return (
                f"Only <@{req.requester}> or someone allowed to run {risk} actions "
                f"({who_may}) may cancel request #{req.id}."
            )
        if r.reason is Reason.ALREADY and req is not None:
            by = req.confirmed_by or req.approver
            return f"Request #{req.id} is already {req.status}" + (f" (by <@{by}>)" if by else "") + "."
        if r.reason is Reason.LOCKED and req is not None:
            return (
                f"Another action on {inline(req.preview.target)} is already running (by <@{r.detail}>); "
                "try again when it ends."
            )
        if r.reason is Reason.UNAVAILABLE:
            return f"Nothing was changed: I cannot take the lock on the target ({escape(redact(r.detail))}). Try again."
        return {
            Reason.EXPIRED: "this request has expired; nothing was changed",
            Reason.APPROVAL_EXPIRED: "The approval window has expired; nothing was changed.",
            Reason.SELF_APPROVAL: "You cannot approve your own request: a second person must.",
        }.get(r.reason, "no such request")

    # ------------------------------------------------------------------ audit, undo
    async def audit_text(self, n: int) -> str:
        rows = await self.escalator.latest_audit(n)
        lines = [
            f"`{r['at']:%m-%d %H:%M:%S}` {_actor(r['actor'])} *{escape(r['event'])}* "
            + clean(ui.label(r["action"], r["params"]))
            + (f": {_cut(clean(r['result']), 150)}" if r["result"] else "")
            for r in rows
        ]
        return "\n".join(lines) or "The audit log is empty."

    async def undo_request(self, token: str) -> tuple[str, dict[str, Any], str] | str:
        """The Undo button's action, old values and channel, read from the request's stored outcome."""
        data = verify(token, self.key)
        found = await self.flow.undo_of(data["u"]) if isinstance(data.get("u"), int) else None
        return found or "there is nothing to undo for this request"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… (+{len(text) - limit} characters)"


def _actor(actor: str) -> str:
    """A Slack user ID as a mention; anything else (a terminal user's name) as escaped text."""
    return f"<@{actor}>" if actor[:1] in ("U", "W") and actor.isalnum() and actor.isascii() else escape(actor)


def register_action_handlers(app: AsyncApp, flow: SlackRemediation) -> None:
    import re

    async def reply(client: AsyncWebClient, body: dict[str, Any], text: str | None, respond: Any = None) -> None:
        if text:
            channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id") or ""
            await ephemeral(client, channel, body["user"]["id"], text, respond)

    @app.action(re.compile(r"^alp_action_(request|undo)(:\d+)?$"))
    async def requested(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        user = body["user"]["id"]
        value = str(body["actions"][0].get("value") or "")
        channel = body.get("channel", {}).get("id", "")
        try:
            if body["actions"][0]["action_id"] == "alp_action_undo":
                found = await flow.undo_request(value)
                if isinstance(found, str):
                    await reply(client, body, found, respond)
                    return
                action, params, bound = found
                evidence = None  # an undo acts on what alp itself changed, not on a report
            else:
                data = verify(value, flow.key)
                action, params, bound = str(data.get("a", "")), dict(data.get("p") or {}), str(data.get("c") or "")
                evidence = data.get("e")
        except (TokenError, ValueError, TypeError, KeyError) as err:
            await flow.audit(user, "refused", "?", {}, str(err))
            await reply(client, body, f":no_entry: {escape(err)}", respond)
            return
        if bound and bound != channel:  # a finding's button belongs to the message it was posted in
            await flow.audit(user, "refused", action, params, f"button from {bound} clicked in {channel}")
            await reply(client, body, ":no_entry: this button belongs to a message in another channel", respond)
            return
        gone = await flow.superseded(channel, evidence)
        if gone:
            await flow.audit(user, "refused", action, params, gone, channel)
            await reply(client, body, f":no_entry: Not run: {escape(gone)}", respond)
            return
        thread = body.get("container", {}).get("message_ts")
        await reply(
            client,
            body,
            await flow.request(action, params, user, channel, thread, body.get("trigger_id")),
            respond,
        )

    @app.view("alp_action_modal")
    async def modal(ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            meta = json.loads(view["private_metadata"])
            raw = dict(meta["p"])
            channel = str(meta["c"])
        except (ValueError, KeyError, TypeError):
            log.warning("refused a parameters form with unreadable metadata")
            return
        state = view.get("state")
        values = state.get("values") if isinstance(state, dict) else None
        for name in values if isinstance(values, dict) else {}:
            value = form_value(view, name)
            if value:
                raw[name] = value
        thread = meta.get("t") if isinstance(meta.get("t"), str) else None
        text = await flow.request(str(meta.get("a", "")), raw, body["user"]["id"], channel, thread)
        if text:
            await ephemeral(client, channel, body["user"]["id"], text)

    for step in Click:

        def make(step: Click) -> Any:
            async def handler(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
                await ack()
                token, user = str(body["actions"][0].get("value") or ""), body["user"]["id"]
                channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id") or ""
                await reply(client, body, await flow.click(step, token, user, channel), respond)

            return handler

        app.action(f"alp_action_{step.value}")(make(step))
