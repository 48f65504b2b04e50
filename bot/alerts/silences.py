"""Silences from Slack, and the recovery checklist's "Clear any alerts".

"Silence 1h / 4h" on an alert group's message creates a silence in Alertmanager (API v2):
matchers are the labels every alert of the group shares, `createdBy` the Slack user, the
comment names the incident. Who may silence is checked when they click, like a remediation
of risk `alertmanager.silence_risk`, and every request, refusal and outcome is audited.
When an alert-born incident resolves, its checklist gets what still fires and a button that
expires the silences made for it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.group_messages import GroupMessages
from bot.alerts.intake import AlertIntake
from bot.remediation.buttons import SlackRemediation
from bot.render.alert_blocks import esc
from bot.settings import Settings
from bot.slack.signing import TokenError, verify
from commands.actions.registry import Risk
from commands.backends.alertmanager import Alertmanager, AlertmanagerError
from escalation.state.alert_groups import AlertGroups

log = logging.getLogger(__name__)


class Silencer:
    """The two clicks: silence a group, expire an incident's silences."""

    def __init__(self, intake: AlertIntake, flow: SlackRemediation) -> None:
        self.intake, self.flow = intake, flow
        self.cfg = intake.cfg
        self.am = Alertmanager(self.cfg.url, intake.settings.timeouts.probe_s)
        self.risk = Risk(self.cfg.silence_risk)

    async def _allowed(self, user: str, what: str, params: dict[str, Any], channel: str) -> str | None:
        if await self.flow.authz.allowed(user, self.risk):
            return None
        await self.flow.audit(user, "refused", what, params, f"not authorized for {self.risk.value}", channel)
        return f"You may not {what.replace('-', ' ')} (risk {self.risk.value}). Who may: {self.flow.authz.describe(self.risk)}."

    async def silence(self, token: str, user: str, user_name: str, channel: str) -> str | None:
        """Click on "Silence Nh"; returns a private reply, or None when the thread says it."""
        try:
            data = verify(token, self.intake.key)
        except TokenError as err:
            await self.flow.audit(user, "refused", "silence", {}, str(err), channel)
            return f":no_entry: {err}"
        group = await self.intake.groups.get(int(data["g"]))
        if group is None:
            return "That alert group is no longer known."
        hours = float(data["h"])
        labels = group.common_labels
        params: dict[str, Any] = {"matchers": labels, "hours": hours}
        refusal = await self._allowed(user, "silence", params, channel)
        if refusal:
            return refusal
        if not labels:
            await self.flow.audit(user, "refused", "silence", params, "no label common to the group's alerts", channel)
            return "The group's alerts share no label to match on; silence them in Alertmanager itself."
        inc = await self.intake.escalator.get(group.incident_id) if group.incident_id else None
        comment = (
            f"alp: {inc.ref} ({inc.priority.value}) {inc.summary}"
            if inc
            else f"alp: alert group {labels.get('alertname', '')}"
        )
        await self.flow.audit(user, "requested", "silence", params, comment, channel)
        try:
            sid = await self.am.create_silence(labels, hours, f"{user_name} (Slack {user})", comment)
        except AlertmanagerError as err:
            await self.flow.audit(user, "outcome", "silence", params, f"failed: {err}", channel)
            return f"Could not silence: {esc(str(err))}"
        await self.intake.groups.add_silence(group.id, sid)
        await self.flow.audit(user, "outcome", "silence", params, f"done: silence {sid} for {hours:g}h", channel)
        if inc:
            await self.intake.escalator.record(
                inc.id, user, "action", f"silenced for {hours:g}h (silence {sid})", {"action": "silence", "ok": True}
            )
            await self.intake.escalator.engaged(inc.id, user, f"by setting a {hours:g}h silence")
        matchers = ", ".join(f"{esc(k)}={esc(v)}" for k, v in sorted(labels.items()))
        await self.intake.client.chat_postMessage(
            channel=group.channel,
            thread_ts=group.message_ts,
            text=f":mute: Silenced for {hours:g}h by <@{user}> in Alertmanager (silence {sid}; matchers {matchers})",
        )
        return None

    async def expire(self, token: str, user: str, channel: str) -> str | None:
        try:
            data = verify(token, self.intake.key)
        except TokenError as err:
            await self.flow.audit(user, "refused", "expire-silences", {}, str(err), channel)
            return f":no_entry: {err}"
        group = await self.intake.groups.of_incident(int(data["i"]))
        if group is None:
            return "That incident came from no alert group."
        params: dict[str, Any] = {"silences": group.silences, "incident": int(data["i"])}
        refusal = await self._allowed(user, "expire-silences", params, channel)
        if refusal:
            return refusal
        expired, failed = [], []
        for sid in group.silences:
            try:
                if (await self.am.silence(sid)).get("status", {}).get("state") == "active":
                    await self.am.expire_silence(sid)
                    expired.append(sid)
            except AlertmanagerError as err:
                failed.append(f"{sid}: {err}")
        result = f"expired {len(expired)}" + (f"; failed {'; '.join(failed)}" if failed else "")
        await self.flow.audit(
            user, "outcome", "expire-silences", params, ("done: " if not failed else "failed: ") + result, channel
        )
        await self.intake.escalator.record(
            int(data["i"]), user, "action", f"silences {result}", {"action": "expire-silences"}
        )
        await self.intake.client.chat_postMessage(
            channel=group.channel,
            thread_ts=group.message_ts,
            text=f":speaker: <@{user}> {esc(result)} silence(s) in Alertmanager"
            + (f" ({esc(', '.join(expired))})" if expired else ""),
        )
        return None


def register_alert_handlers(app: AsyncApp, silencer: Silencer) -> None:
    async def reply(client: AsyncWebClient, body: dict[str, Any], text: str | None) -> None:
        if text:
            channel = body.get("channel", {}).get("id") or body.get("container", {}).get("channel_id")
            await client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)

    @app.action(re.compile(r"^alert_silence:\d+$"))
    async def silence(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body["user"]
        channel = body.get("channel", {}).get("id", "")
        name = user.get("username") or user.get("name") or user["id"]
        await reply(client, body, await silencer.silence(body["actions"][0]["value"], user["id"], name, channel))

    @app.action("alert_expire_silences")
    async def expire(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel = body.get("channel", {}).get("id", "")
        await reply(client, body, await silencer.expire(body["actions"][0]["value"], body["user"]["id"], channel))


def alert_intake(
    settings: Settings, app: AsyncApp, groups: AlertGroups, messages: GroupMessages, flow: SlackRemediation
) -> AlertIntake:
    """The intake behind `POST /alertmanager` (on the escalator of `flow`), with its buttons
    registered on the Bolt app; `flow` is the bot's one remediation flow."""
    intake = AlertIntake(settings, app.client, flow.escalator, groups, messages, flow.request_button)
    register_alert_handlers(app, Silencer(intake, flow))
    return intake
