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

from bot.alerts.intake import BUTTON_TTL_S, AlertIntake
from bot.remediation.buttons import ActionFlow
from bot.render.alert_blocks import clear_alerts_blocks, esc
from bot.settings import Settings
from bot.slack.client import Pacer
from bot.slack.incidents import SlackNotifier
from bot.slack.signing import TokenError, key_from, sign, verify
from commands.actions.registry import Risk
from commands.backends.alertmanager import Alertmanager, AlertmanagerError
from escalation.model import Incident
from escalation.state.alert_groups import AlertGroups

log = logging.getLogger(__name__)


class AlertNotifier(SlackNotifier):
    """The Slack notifier, plus "Clear any alerts" under the checklist of an alert-born incident."""

    def __init__(self, client: AsyncWebClient, settings: Settings, groups: AlertGroups) -> None:
        super().__init__(client)
        self.groups = groups
        self.am = Alertmanager(settings.alertmanager.url, settings.timeouts.probe_s)
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else "alp"
        self.key = key_from(secret)
        self.pacer = Pacer(settings.alertmanager.post_rate_per_s, settings.alertmanager.post_burst)
        self.intake: AlertIntake | None = None  # set once the intake exists (it needs the escalator)

    async def announce(self, inc: Incident) -> tuple[str, str] | None:
        """An incident opened by an alert group is announced by the group's own message."""
        where = await self.intake.announce(inc) if self.intake else None
        if where:
            return where
        await self.pacer.wait(inc.channel.lstrip("#"))  # alert storms open incidents by the dozen
        return await super().announce(inc)

    async def refresh(self, inc: Incident) -> None:
        if not (self.intake and await self.intake.refresh(inc)):
            await super().refresh(inc)

    async def checklist(self, inc: Incident) -> None:
        await super().checklist(inc)
        group = await self.groups.of_incident(inc.id)
        if group is None:
            return
        text, blocks = await clear_alerts(self.am, group.common_labels, group.silences, inc.ref, self.key, inc.id)
        await self.client.chat_postMessage(channel=inc.channel, thread_ts=inc.message_ts, text=text, blocks=blocks)


async def clear_alerts(
    am: Alertmanager, labels: dict[str, str], silence_ids: list[str], ref: str, key: bytes, incident_id: int
) -> tuple[str, list[dict[str, Any]]]:
    firing: list[dict[str, Any]] | None = None
    why = ""
    silences: list[dict[str, Any]] = []
    try:
        firing = await am.firing(labels) if labels else []
        silences = [await am.silence(sid) for sid in silence_ids]
    except AlertmanagerError as err:
        why = str(err)
    token = sign({"i": incident_id}, key, BUTTON_TTL_S)
    return clear_alerts_blocks(ref, firing, silences, token, why)


class Silencer:
    """The two clicks: silence a group, expire an incident's silences."""

    def __init__(self, intake: AlertIntake, flow: ActionFlow) -> None:
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
            + (f" ({', '.join(expired)})" if expired else ""),
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


def alert_intake(settings: Settings, app: AsyncApp, escalator: Any, groups: AlertGroups, metrics: Any) -> AlertIntake:
    """The intake behind `POST /alertmanager`, with its buttons registered on the Bolt app."""
    flow = ActionFlow(settings, app.client, escalator, metrics)
    intake = AlertIntake(settings, app.client, escalator, groups, metrics.registry, flow.request_button)
    if isinstance(escalator.notifier, AlertNotifier):
        intake.pacer = escalator.notifier.pacer  # one pace per channel for every message the bot posts there
        escalator.notifier.intake = intake
    register_alert_handlers(app, Silencer(intake, flow))
    return intake
