"""The Bolt app: `/alp` is acknowledged at once, then answered in the channel.

Flow of `/alp check kafka-lag`: ack (within Slack's 3 s) -> post "Running kafka-lag…"
listing its probes -> update it as probes finish (at most once a second) -> replace it with
the findings. Where the bot cannot post in the channel, `response_url` carries the replies.
"""

from __future__ import annotations

import functools
import logging
import re
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.check_context import check_context
from bot.metrics import Metrics
from bot.oncall.buttons import OncallButtons
from bot.remediation.buttons import SlackRemediation, register_action_handlers
from bot.render.escape import code, escape
from bot.render.report_blocks import SlackMessage, render_progress, render_queued, render_usage
from bot.router import (
    CheckCommand,
    parse,
)
from bot.settings import Settings
from bot.slack.client import (
    SLACK_ERRORS,
    deliver,
    ensure_ok,
    make_client,
    reason,
    respond_whole,
    retrying,
)
from bot.slack.incidents import register_incident_handlers
from bot.slack.report_message import rendered
from bot.slack.verbs import SlashCall, Verbs
from commands.catalogue import current
from commands.check_slots import SLOTS
from commands.masking.redact import redact
from commands.params import UsageError
from commands.report import Report
from commands.runner import start_check
from commands.runtime.cpu import off_loop
from escalation.ladder.engine import Escalator
from escalation.state.db import as_state_store_error

log = logging.getLogger(__name__)

ATTACH_CHUNK = 35_000  # characters of a file sent as messages (Slack takes 40,000 a message)
PROGRESS_MIN_INTERVAL_S = 1.0  # chat.update is rate limited (Tier 3: ~50/min per workspace)


class Reply:
    """One message the bot keeps updating: posted in the channel, or via response_url.
    Delivery and its fallbacks are `bot.slack.client.deliver`'s."""

    def __init__(self, client: AsyncWebClient, respond: Any, channel: str, user: str) -> None:
        self.client = client
        self.respond = retrying(respond)
        self.channel = channel
        self.user = user
        self.ts: str | None = None
        self.via_response_url = False

    async def send(self, msg: SlackMessage, what: str = "reply") -> bool:
        """Post the first time, update in place afterwards; False when the message was lost (logged)."""
        if self.via_response_url:
            try:
                await respond_whole(self.respond, msg.text, msg.blocks, replace=True)
                return True
            except Exception as err:
                log.error("lost %s to %s: response_url: %s", what, self.channel, reason(err))
                return False
        out = await deliver(
            self.client, self.channel, msg.text, msg.blocks, ts=self.ts, respond=self.respond, what=what
        )
        if out is None:
            return False
        if "via" in out:
            self.via_response_url = True
        else:
            self.ts, self.channel = out["ts"], out["channel"]
        return True

    async def attach(self, content: str, filename: str, title: str) -> None:
        """Upload the full content as a file in the message's thread; where the upload fails, send
        it as text in as many messages as it takes; through a response_url, what fits one message
        and how much is left out."""
        if not self.via_response_url:
            try:
                await self.client.files_upload_v2(
                    channel=self.channel, thread_ts=self.ts, content=content, filename=filename, title=title
                )
                return
            except SLACK_ERRORS as err:
                log.warning("cannot upload %s to %s (%s); sending it as messages", filename, self.channel, reason(err))
        if self.via_response_url:  # a response_url takes 5 messages in all: one, saying what is left out
            shown = content[:ATTACH_CHUNK]
            more = len(content) - len(shown)
            left = f"\n… and {more} more characters: the bot cannot upload files here" if more else ""
            try:  # masking and escaping foreign text: CPU, off the loop (30,000-character lines)
                text = f"{escape(title)} (no file upload here):\n" + await off_loop(code, shown) + left
                ensure_ok(await self.respond(text=text, replace_original=False, response_type="in_channel"))
            except Exception as err:
                log.error("lost %s to %s: response_url: %s", filename, self.channel, reason(err))
            return
        chunks = [content[i : i + ATTACH_CHUNK] for i in range(0, len(content), ATTACH_CHUNK)] or [""]
        for n, chunk in enumerate(chunks, 1):
            head = f"{escape(title)} ({n}/{len(chunks)}):\n" if len(chunks) > 1 else f"{escape(title)}:\n"
            body = await off_loop(code, chunk)  # masking and escaping: CPU, off the loop
            await deliver(self.client, self.channel, head + body, thread_ts=self.ts, what=f"{filename} part {n}")

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
        if self.reply.ts is None or self.reply.via_response_url:
            return
        try:  # progress is a nicety: no fallbacks, the result still goes out
            msg = render_progress(self.target, self.states)
            await self.reply.client.chat_update(
                channel=self.reply.channel, ts=self.reply.ts, text=msg.text, blocks=msg.blocks
            )
        except SLACK_ERRORS as err:
            log.warning("progress update failed: %s", reason(err))


def build_app(
    settings: Settings, metrics: Metrics, escalator: Escalator, flow: SlackRemediation, oncall: OncallButtons
) -> AsyncApp:
    """The Bolt app with `/alp`, the incident and action buttons registered (not the catch-all
    fallbacks: Bolt runs the first listener that matches, so `register_fallbacks` comes after
    every other handler). Signature checks stay on. `flow` is the bot's one remediation flow, `oncall` its
    on-call overrides (on the directory the ladder pages from)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    client = make_client(token, settings.slack_api_url)
    app = AlpApp(
        settings.state_url,
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
            msg = render_usage(f"{err}\n`/alp help` lists every command.")  # the answer, not 10 k of help
            await ack(response_type="ephemeral", text=msg.text, blocks=msg.blocks)
            return
        await verbs[type(request)](SlashCall(ack, command, respond, client), request)

    async def in_channel(request: CheckCommand, call: SlashCall) -> None:
        await run_in_channel(request, call.command, call.respond, call.client, settings, metrics, escalator, flow)

    async def run_health(body: dict[str, Any], client: AsyncWebClient, respond: Any, incident: int) -> None:
        spec = current().checks.get("health")
        assert spec is not None
        command = {"channel_id": body.get("channel", {}).get("id", ""), "user_id": body["user"]["id"]}
        await run_in_channel(
            CheckCommand(spec, spec.params(), incident), command, respond, client, settings, metrics, escalator, flow
        )

    verbs = Verbs(settings, metrics, escalator, flow, oncall, private, in_channel).table()
    app.command("/alp")(alp_command)
    register_incident_handlers(app, escalator, run_health, settings.platform.components())
    register_action_handlers(app, flow)
    oncall.register(app)
    return app  # the caller adds its own handlers, then `register_fallbacks` last


async def private(respond: Any, text: str | None) -> None:
    """A private reply through `response_url`; a failure is logged as the loss it is."""
    if not text:
        return
    try:
        ensure_ok(await retrying(respond)(response_type="ephemeral", text=text))
    except Exception as err:
        log.error("lost a private reply: response_url: %s", reason(err))


def register_fallbacks(app: AsyncApp, state_url: str = "") -> None:
    """Registered last: any other button or form is acknowledged and answered, and an error in a
    handler is answered and logged in one line (type, place, masked message), never a traceback;
    a failure of the state store at `state_url` is answered naming it (where, and why)."""

    @app.action(re.compile(".*"))
    async def unknown_action(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        await private(respond, "This button is not one alp knows (any more): run the command again.")

    @app.view(re.compile(".*"))
    async def unknown_view(ack: Any) -> None:
        await ack()

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], respond: Any = None) -> None:
        await answer_failure(error, respond, state_url)


async def answer_failure(error: Exception, respond: Any, state_url: str) -> None:
    """Log a handler's failure in one line (type, place, masked message) and answer it privately:
    a failure of the state store at `state_url` names it (where, and why), anything else its type."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if any(p in f.filename for p in ("/bot/", "/commands/", "/escalation/"))] or frames
    where = f"{Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else "?"
    log.error("unhandled %s at %s: %s", type(error).__name__, where, redact(str(error))[:300])
    if respond is None:
        return
    store = as_state_store_error(error, state_url)
    if store is not None:
        # people's writes carry request keys: a retry finds what this attempt did and finishes it
        await private(
            respond,
            f"alp could not finish that: {escape(str(store))}. Try again when it answers: "
            "a retry finds what this attempt did and does not repeat it.",
        )
        return
    await private(respond, f"alp could not finish that ({type(error).__name__}); it is logged.")


def _respond_of(body: Any) -> AsyncRespond | None:
    """A reply through the payload's `response_url`, for a listener that did not ask for `respond`."""
    url = body.get("response_url") if isinstance(body, dict) else None
    return AsyncRespond(response_url=url) if isinstance(url, str) and url else None


class AlpApp(AsyncApp):
    """Bolt's AsyncApp whose every listener (commands, buttons, forms) answers its own failure
    (`answered`); `state_url` names the state store in those answers."""

    def __init__(self, state_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state_url = state_url

    def _register_listener(self, functions: Any, *args: Any, **kwargs: Any) -> Any:  # Bolt's one registration path
        return super()._register_listener([answered(f, self.state_url) for f in functions], *args, **kwargs)


def answered(handler: Callable[..., Awaitable[None]], state_url: str) -> Callable[..., Awaitable[None]]:
    """`handler` answering its own failure. Bolt's asyncio runner, when a listener fails within
    ~10 ms of its ack, overwrites the ack with nothing and Slack gets a 404 after 3 s (a state store
    refusing connections fails that fast); so the failure is caught here, inside the listener, acked
    if it was not yet, and answered as `answer_failure` does. Bolt injects arguments by the wrapped
    handler's names (it unwraps)."""

    @functools.wraps(handler)
    async def run(**kwargs: Any) -> None:
        try:
            await handler(**kwargs)
        except Exception as err:
            ack = kwargs.get("ack")
            if ack is not None and getattr(ack, "response", None) is None:
                await ack()
            await answer_failure(err, kwargs.get("respond") or _respond_of(kwargs.get("body")), state_url)

    return run


def _verb(text: str) -> str:
    word = text.split()[0].lower() if text.split() else "help"
    return word if word.isascii() and len(word) < 32 else "other"


async def run_in_channel(
    request: CheckCommand,
    command: dict[str, Any],
    respond: Any,
    client: AsyncWebClient,
    settings: Settings,
    metrics: Metrics,
    escalator: Escalator,
    flow: SlackRemediation,
) -> None:
    """Run a check after the ack and keep the channel informed: its place in line while it waits
    for a slot (`checks.max_running`), its probes while it runs, then its report."""
    t0 = time.monotonic()
    reply = Reply(client, respond, command["channel_id"], command.get("user_id", ""))
    progress = Progress(reply, request.target, request.spec.probe_names(settings))
    outcome = "ok"
    try:
        run = start_check(
            request.spec,
            check_context(settings, progress),
            request.params,
        )
        if run.place:
            await reply.send(render_queued(request.target, run.place, SLOTS.running, SLOTS.limit), what="queued")
            await run.started()
        await progress.start()
        report = await run.report()
        channel = command["channel_id"]
        counted = metrics.renderings.labels(target=request.target).inc
        made = await rendered(report, request.show_all, flow.request_button, counted)  # one rendering, off the loop
        if made.chart:  # kafka-lag's lag over the window of the groups not OK, or `graph`'s chart
            await reply.attach_image(made.chart, made.chart_name, made.chart_title)
        msg = made.for_channel(flow.request_button, channel)
        if not await reply.send(msg, what=f"the {request.target} report"):
            outcome = "error"
        if msg.attachment:
            await reply.attach(msg.attachment, f"{request.target}-report.txt", f"{request.target} report")
        if made.raw:  # `logs`: every line read, as a file beside the grouped report
            name = "-".join(str(x) for x in (request.target, report.data.get("service")) if x)
            await reply.attach(made.raw, f"{name}.log", f"{name}: {made.raw_count} line(s) read")
        metrics.outcomes.labels(target=request.target, severity=report.severity.value).inc()
        where = {"channel": reply.channel, "ts": reply.ts} if reply.ts else None
        await link_to_incident(escalator, request, command, report, where)
    except (*SLACK_ERRORS, TimeoutError) as err:
        outcome = "error"
        log.error("could not answer /alp %s: %s", request.target, reason(err))
    finally:
        metrics.commands.labels(verb="check", outcome=outcome).inc()
        metrics.duration.labels(target=request.target).observe(time.monotonic() - t0)


async def link_to_incident(
    escalator: Escalator,
    request: CheckCommand,
    command: dict[str, Any],
    report: Report,
    message: dict[str, str] | None = None,
) -> None:
    """A check run for an incident (`--incident`, or in its channel) joins its steps and evidence;
    `message` ({channel, ts}: where its report was posted) is marked superseded by a newer verdict."""
    user = command.get("user_id", "alp")
    params = request.params.model_dump(mode="json", exclude_defaults=True)
    text, data = report.verdict(f"asked by <@{user}>", params)
    if message:
        data["message"] = message
    if not request.incident:
        await escalator.record_in_channel(command["channel_id"], user, "check", text, data)
        return
    inc = await escalator.get(request.incident)
    if inc is not None:
        await escalator.record(inc.id, user, "check", text, data)
