"""`/alp`'s verbs: one handler per command type of bot/router.py, looked up in `VERBS` (the dispatch
table). Each handler acks (Slack waits 3 s for it) and answers: in the ack, privately through
`response_url`, or in the channel (`check` and the steps, through bot/slack/app.py's `run_in_channel`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.oncall.buttons import OncallButtons, oncall_verb
from bot.remediation.buttons import SlackRemediation
from bot.render.incident_blocks import open_modal
from bot.render.incident_text import handle_incident_command, oncall_text
from bot.render.report_blocks import render_usage
from bot.router import AuditCommand, CheckCommand, DoCommand, HelpCommand, IncidentCommand, OncallCommand, help_text
from bot.settings import Settings
from bot.slack.client import open_form
from bot.slack.incidents import upload_postmortem
from escalation.ladder.engine import Escalator


@dataclass
class SlashCall:
    """One `/alp` invocation as Bolt hands it over."""

    ack: Any
    command: dict[str, Any]
    respond: Any
    client: AsyncWebClient

    @property
    def channel(self) -> str:
        return str(self.command["channel_id"])

    @property
    def user(self) -> str:
        return str(self.command.get("user_id", ""))


@dataclass
class Verbs:
    """What the verbs act with; `private` and `run_in_channel` are bot/slack/app.py's."""

    settings: Settings
    metrics: Metrics
    escalator: Escalator
    flow: SlackRemediation
    oncall_buttons: OncallButtons
    private: Callable[[Any, str | None], Awaitable[None]]
    run_in_channel: Callable[[CheckCommand, SlashCall], Awaitable[None]]

    def count(self, verb: str) -> None:
        self.metrics.commands.labels(verb=verb, outcome="ok").inc()

    async def help(self, call: SlashCall, request: HelpCommand) -> None:
        self.count("help")
        msg = render_usage(help_text(request.topic))
        await call.ack(response_type="ephemeral", text=msg.text, blocks=msg.blocks)

    async def oncall(self, call: SlashCall, request: OncallCommand) -> None:
        self.count("oncall")
        if not self.settings.oncall.schedules and request.schedule is None and request.sub == "now":
            await call.ack(response_type="ephemeral", text=oncall_text(self.settings))  # the configured rungs
            return
        await call.ack()  # schedules: the asker's zone, overrides from the state store (bot/oncall/buttons.py)
        reply, then = await oncall_verb(self.settings, self.oncall_buttons, request, call.client, call.user)
        await call.respond(**reply)
        if then is not None:  # the week's picture, after the words
            await then()

    async def do(self, call: SlashCall, request: DoCommand) -> None:
        self.count("do")
        await call.ack()
        reply = await self.flow.request(
            request.action, request.raw, call.user, call.channel, None, call.command.get("trigger_id")
        )
        await self.private(call.respond, reply)

    async def audit(self, call: SlashCall, request: AuditCommand) -> None:
        self.count("audit")
        await call.ack()  # acks never wait on the state store: the records go through response_url
        await self.private(call.respond, await self.flow.audit_text(request.n))

    async def incident(self, call: SlashCall, request: IncidentCommand) -> None:
        self.count("incident")
        await call.ack()
        if request.sub == "open" and request.priority is None:  # no arguments: the form
            modal = open_modal(channel=call.channel, services=self.settings.platform.components())
            await self.private(
                call.respond, await open_form(call.client, call.command.get("trigger_id"), modal, "incident")
            )
            return
        upload = functools.partial(upload_postmortem, client=call.client)
        reply = await handle_incident_command(self.escalator, request, call.channel, call.user, upload)
        await self.private(call.respond, reply)

    async def check(self, call: SlashCall, request: CheckCommand) -> None:
        await call.ack()
        await self.run_in_channel(request, call)

    def table(self) -> dict[type, Callable[[SlashCall, Any], Awaitable[None]]]:
        """The dispatch table: command type (bot/router.py) -> its handler."""
        return {
            HelpCommand: self.help,
            OncallCommand: self.oncall,
            DoCommand: self.do,
            AuditCommand: self.audit,
            IncidentCommand: self.incident,
            CheckCommand: self.check,
        }
