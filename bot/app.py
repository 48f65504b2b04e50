"""The Bolt app: `/alp` is acknowledged at once, then answered in the channel.

Flow of `/alp check kafka-lag`: ack (within Slack's 3 s) -> post "Running kafka-lag…"
listing its probes -> update it as probes finish (at most once a second) -> replace it with
the findings. Where the bot cannot post in the channel, `response_url` carries the replies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.actions import ActionFlow, register_action_handlers
from bot.incidents import handle_incident_command, oncall_text, register_incident_handlers
from bot.metrics import Metrics
from bot.render_incident import open_modal
from bot.render_slack import SlackMessage, render_progress, render_report, render_usage
from bot.router import (
    AuditRequest,
    CheckRequest,
    DoRequest,
    HelpRequest,
    IncidentRequest,
    OncallRequest,
    help_text,
    parse,
)
from bot.settings import Settings
from commands.params import UsageError
from commands.registry import CHECKS, CheckContext
from commands.report import Report, Severity
from commands.runner import run_check
from escalation.engine import Escalator

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL_S = 1.0  # chat.update is rate limited (Tier 3: ~50/min per workspace)


class Reply:
    """One message the bot keeps updating: posted in the channel, or via response_url."""

    def __init__(self, client: AsyncWebClient, respond: Any, channel: str, user: str) -> None:
        self.client = client
        self.respond = respond
        self.channel = channel
        self.user = user
        self.ts: str | None = None
        self.via_response_url = False

    async def send(self, msg: SlackMessage) -> None:
        """Post the first time, update in place afterwards."""
        if self.via_response_url:
            await self.respond(text=msg.text, blocks=msg.blocks, replace_original=True, response_type="in_channel")
            return
        try:
            if self.ts is None:
                resp = await self.client.chat_postMessage(channel=self.channel, text=msg.text, blocks=msg.blocks)
                self.ts = resp["ts"]
                self.channel = resp.get("channel", self.channel)
            else:
                await self.client.chat_update(channel=self.channel, ts=self.ts, text=msg.text, blocks=msg.blocks)
        except SlackApiError as err:
            if self.ts is not None:
                raise
            log.info("cannot post in %s (%s); using response_url", self.channel, err.response.get("error"))
            self.via_response_url = True
            await self.respond(text=msg.text, blocks=msg.blocks, response_type="in_channel")

    async def attach(self, content: str, filename: str, title: str) -> None:
        """Upload the full report as a file in the message's thread."""
        if self.via_response_url:
            shown = content[:35000]
            more = len(content) - len(shown)
            left = f"\n… and {more} more characters: the bot cannot upload files here" if more else ""
            await self.respond(
                text=f"{title} (no file upload here):\n```" + shown + "```" + left,
                replace_original=False,
                response_type="in_channel",
            )
            return
        await self.client.files_upload_v2(
            channel=self.channel, thread_ts=self.ts, content=content, filename=filename, title=title
        )

    async def attach_image(self, png: bytes, filename: str, title: str) -> None:
        """Upload a picture (a chart) in the message's thread; not possible through response_url.
        A picture is extra: a failed upload is logged and the report still goes out."""
        if self.via_response_url:
            return
        try:
            await self.client.files_upload_v2(
                channel=self.channel, thread_ts=self.ts, file=png, filename=filename, title=title
            )
        except (SlackClientError, OSError) as err:  # API errors, and uploads the server refused
            log.warning("could not attach %s: %s", filename, err)


class Progress:
    """Probe states shown in the first reply, with rate-limited updates."""

    def __init__(self, reply: Reply, target: str, probes: tuple[str, ...]) -> None:
        self.reply = reply
        self.target = target
        self.states = dict.fromkeys(probes, "running")
        self.last_update = 0.0

    async def start(self) -> None:
        await self.reply.send(render_progress(self.target, self.states))
        self.last_update = time.monotonic()

    async def __call__(self, probe: str, state: str) -> None:
        self.states[probe] = state
        if time.monotonic() - self.last_update < PROGRESS_MIN_INTERVAL_S:
            return
        self.last_update = time.monotonic()
        try:
            await self.reply.send(render_progress(self.target, self.states))
        except SlackApiError as err:  # progress is a nicety; the result still goes out
            log.warning("progress update failed: %s", err)


def build_app(settings: Settings, metrics: Metrics, escalator: Escalator) -> AsyncApp:
    """The Bolt app with `/alp` and the incident buttons registered. Signature checks stay on."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    client = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=True,
        process_before_response=False,
    )

    async def alp_command(ack: Any, command: dict[str, Any], respond: Any, client: AsyncWebClient) -> None:
        text = (command.get("text") or "").strip()
        try:
            request = parse(text)
        except UsageError as err:
            metrics.commands.labels(verb=_verb(text), outcome="usage").inc()
            msg = render_usage(f"{err}\n\n{help_text()}")
            await ack(response_type="ephemeral", text=msg.text, blocks=msg.blocks)
            return
        if isinstance(request, HelpRequest):
            metrics.commands.labels(verb="help", outcome="ok").inc()
            msg = render_usage(help_text(request.topic))
            await ack(response_type="ephemeral", text=msg.text, blocks=msg.blocks)
            return
        if isinstance(request, OncallRequest):
            metrics.commands.labels(verb="oncall", outcome="ok").inc()
            await ack(response_type="ephemeral", text=oncall_text(settings))
            return
        if isinstance(request, DoRequest):
            metrics.commands.labels(verb="do", outcome="ok").inc()
            await ack()
            reply = await flow.request(
                request.action,
                request.raw,
                command.get("user_id", ""),
                command["channel_id"],
                None,
                command.get("trigger_id"),
            )
            if reply:
                await respond(response_type="ephemeral", text=reply)
            return
        if isinstance(request, AuditRequest):
            metrics.commands.labels(verb="audit", outcome="ok").inc()
            await ack(response_type="ephemeral", text=flow.audit_text(request.n))
            return
        if isinstance(request, IncidentRequest):
            metrics.commands.labels(verb="incident", outcome="ok").inc()
            if request.sub == "open" and request.priority is None:  # no arguments: the form
                await ack()
                await client.views_open(
                    trigger_id=command["trigger_id"], view=open_modal(channel=command["channel_id"])
                )
                return
            await ack()
            reply = await handle_incident_command(
                escalator, request, command["channel_id"], command.get("user_id", ""), client
            )
            if reply:
                await respond(response_type="ephemeral", text=reply)
            return
        await ack()
        await run_in_channel(request, command, respond, client, settings, metrics, escalator, flow)

    async def run_health(body: dict[str, Any], client: AsyncWebClient, respond: Any, incident: int) -> None:
        spec = CHECKS.get("health")
        assert spec is not None
        command = {"channel_id": body.get("channel", {}).get("id", ""), "user_id": body["user"]["id"]}
        await run_in_channel(
            CheckRequest(spec, spec.params(), incident), command, respond, client, settings, metrics, escalator, flow
        )

    flow = ActionFlow(settings, client, escalator, metrics)
    app.command("/alp")(alp_command)
    register_incident_handlers(app, escalator, run_health)
    register_action_handlers(app, flow)
    return app


def _verb(text: str) -> str:
    word = text.split()[0].lower() if text.split() else "help"
    return word if word.isascii() and len(word) < 32 else "other"


async def run_in_channel(
    request: CheckRequest,
    command: dict[str, Any],
    respond: Any,
    client: AsyncWebClient,
    settings: Settings,
    metrics: Metrics,
    escalator: Escalator,
    flow: ActionFlow,
) -> None:
    """Run a check after the ack and keep the channel informed."""
    t0 = time.monotonic()
    reply = Reply(client, respond, command["channel_id"], command.get("user_id", ""))
    progress = Progress(reply, request.target, request.spec.probes)
    outcome = "ok"
    try:
        await progress.start()
        report = await run_check(request.spec, CheckContext(settings, progress), request.params)
        if report.data.get("chart"):  # kafka-lag: lag over the window of the groups not OK, in the thread
            from commands.lag_chart import lag_chart_png

            png = await asyncio.to_thread(lag_chart_png, report.data)
            if png:
                await reply.attach_image(png, f"{request.target}-chart.png", f"{request.target}: lag over the window")
        msg = render_report(report, flow.request_button, request.show_all)
        await reply.send(msg)
        if msg.attachment:
            await reply.attach(msg.attachment, f"{request.target}-report.txt", f"{request.target} report")
        raw = report.redacted().data.get("raw_lines")
        if raw:  # `logs`: every line read, as a file beside the grouped report
            name = "-".join(str(x) for x in (request.target, report.data.get("service")) if x)
            await reply.attach("\n".join(raw) + "\n", f"{name}.log", f"{name}: {len(raw)} line(s) read")
        metrics.outcomes.labels(target=request.target, severity=report.severity.value).inc()
        link_to_incident(escalator, request, command, report)
    except (TimeoutError, SlackApiError, OSError) as err:
        outcome = "error"
        log.error("could not answer /alp %s: %s", request.target, err)
    finally:
        metrics.commands.labels(verb="check", outcome=outcome).inc()
        metrics.duration.labels(target=request.target).observe(time.monotonic() - t0)


def link_to_incident(escalator: Escalator, request: CheckRequest, command: dict[str, Any], report: Report) -> None:
    """A check run for an incident (`--incident`, or in its channel) joins its steps and evidence."""
    inc = (
        escalator.store.get(request.incident)
        if request.incident
        else escalator.store.open_in_channel(command["channel_id"])
    )
    if inc is None:
        return
    worst_first = sorted(report.redacted().findings, key=lambda f: -f.severity.rank)
    findings = [f"{f.severity.value.upper()}: {f.title}" for f in worst_first if f.severity is not Severity.OK][:8]
    escalator.record(
        inc.id,
        command.get("user_id", "alp"),
        "check",
        f"check {request.target}: {report.severity.value.upper()}",
        {"target": request.target, "severity": report.severity.value, "findings": findings},
    )
