"""The one Slack Web API client setup, and delivery that never loses a message silently.

Every client retries with slack_sdk's retry handlers: rate limits (HTTP 429) after Slack's
`Retry-After`, server errors (500/503) and connection errors, with backoff. A message that still
cannot be delivered falls back: `chat.update` -> a new message (in the thread) ->
`response_url`; a message Slack refuses as too big or malformed (`invalid_blocks`,
`msg_too_long`) is sent again as its text with the whole content attached as a file. When every
way fails, the loss is logged with each reason.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.render.escape import ZWSP, escape
from bot.render.report_blocks import tables_as_text
from commands.masking.redact import redact

log = logging.getLogger("alp.slack")

SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, OSError, TimeoutError)
TOO_BIG = {"invalid_blocks", "invalid_blocks_format", "msg_too_long", "invalid_arguments", "too_many_attachments"}
FALLBACK_TEXT_CHARS = 3000
RESPONSE_CHUNK = 35_000  # characters of escaped text per response_url message (Slack takes 40,000)

Respond = Callable[..., Awaitable[Any]]


def retry_handlers() -> list[Any]:
    """Rate limits (after `Retry-After`), server errors (500/503) and connection errors, with backoff."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def make_client(token: str | None, base_url: str) -> AsyncWebClient:
    """The bot's Web API client: every call retries rate limits, server and connection errors."""
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=retry_handlers())


def retrying(respond: Any) -> Any:
    """Bolt's `respond` (which does not retry) as a `Responder` for the same `response_url`."""
    url = getattr(respond, "response_url", None)
    return Responder(url) if isinstance(url, str) and url and not isinstance(respond, Responder) else respond


class Responder:
    """`respond()` for a `response_url`, with the same retries as the Web API client (Bolt's own
    `respond` has none). Returns the webhook's answer; `ensure_ok()` turns an HTTP error into an error."""

    def __init__(self, response_url: str) -> None:
        self.response_url = response_url
        self.client = AsyncWebhookClient(url=response_url, retry_handlers=retry_handlers())

    async def __call__(
        self,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        **_: Any,
    ) -> WebhookResponse:
        return await self.client.send(
            text=text, blocks=blocks, response_type=response_type, replace_original=replace_original
        )


def reason(err: BaseException) -> str:
    """Slack's error code (`not_in_channel`), or the HTTP status, or the exception: for logs."""
    if isinstance(err, SlackApiError):
        data = err.response.data if isinstance(err.response.data, dict) else {}
        return str(data.get("error") or f"HTTP {err.response.status_code}")
    return redact(f"{type(err).__name__}: {err}")[:300]


class ResponseUrlError(Exception):
    """`response_url` answered with an HTTP error (the webhook client does not raise)."""


def ensure_ok(resp: Any) -> Any:
    """Raise ResponseUrlError for a `respond()` answer with an HTTP error status."""
    status = getattr(resp, "status_code", 200)
    if isinstance(status, int) and status >= 400:
        raise ResponseUrlError(f"HTTP {status}")
    return resp


async def respond_whole(respond: Respond, text: str, blocks: list[dict[str, Any]] | None, replace: bool) -> None:
    """Through `response_url`: the message, or where its blocks are refused, its content as
    escaped text in as many messages as it takes. Raises when `response_url` fails."""
    try:
        ensure_ok(await respond(text=text, blocks=blocks, response_type="in_channel", replace_original=replace))
        return
    except Exception:
        if not blocks:
            raise
    content = escape(plain(blocks, text))
    for i in range(0, len(content), RESPONSE_CHUNK):
        chunk = content[i : i + RESPONSE_CHUNK]
        ensure_ok(await respond(text=chunk, response_type="in_channel", replace_original=replace and i == 0))


def plain(blocks: list[dict[str, Any]] | None, text: str) -> str:
    """A message's content as plain text (for a file when the blocks were refused)."""
    parts: list[str] = []
    for b in blocks or []:
        if isinstance(b.get("text"), dict):
            parts.append(str(b["text"].get("text", "")))
        parts += [str(f.get("text", "")) for f in b.get("fields", [])]
        parts += [str(e.get("text", "")) for e in b.get("elements", []) if e.get("type") in ("mrkdwn", "plain_text")]
    return html.unescape("\n".join(parts) or text).replace(ZWSP, "").replace("```", "\n")


def shorten(text: str) -> str:
    if len(text) <= FALLBACK_TEXT_CHARS:
        return text
    return text[:FALLBACK_TEXT_CHARS] + "… (the whole message is attached as a file)"


async def deliver(
    client: AsyncWebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    ts: str | None = None,
    thread_ts: str | None = None,
    respond: Respond | None = None,
    what: str = "message",
) -> dict[str, Any] | None:
    """Update message `ts` (or post a new one) with fallbacks; returns Slack's answer
    (`channel`, `ts`), `{"via": "response_url"}`, or None when lost (logged with every reason)."""
    reasons: list[str] = []

    async def call(update: bool, with_blocks: bool) -> dict[str, Any]:
        kw: dict[str, Any] = {"channel": channel, "text": text if with_blocks else shorten(text)}
        if with_blocks and blocks is not None:
            kw["blocks"] = blocks
        if update:
            resp = await client.chat_update(ts=ts or "", **kw)
        else:
            resp = await client.chat_postMessage(thread_ts=thread_ts, **kw)
        return {"channel": str(resp.get("channel", channel)), "ts": str(resp.get("ts", ts))}

    for update in [True, False] if ts else [False]:
        try:
            return await call(update, True)
        except SLACK_ERRORS as err:
            reasons.append(f"{'chat.update' if update else 'chat.postMessage'}: {reason(err)}")
            if reason(err) not in TOO_BIG:
                continue
        if blocks and any(b.get("type") == "table" for b in blocks):  # a workspace that refuses table blocks
            try:
                blocks = tables_as_text(blocks)
                out = await call(update, True)
                log.warning("%s to %s: its table block was refused, sent as text", what, channel)
                return out
            except SLACK_ERRORS as err:
                reasons.append(f"tables as text: {reason(err)}")
                if reason(err) not in TOO_BIG:
                    continue
        try:  # Slack refused the blocks: the text alone, and the content as a file
            out = await call(update, False)
            await client.files_upload_v2(
                channel=out["channel"], thread_ts=out["ts"], content=plain(blocks, text), filename=f"{what}.txt"
            )
            return out
        except SLACK_ERRORS as err:
            reasons.append(f"text only: {reason(err)}")
    if respond is not None:
        try:
            await respond_whole(retrying(respond), text, blocks, replace=False)
            log.warning("%s to %s went through response_url (%s)", what, channel, "; ".join(reasons))
            return {"via": "response_url"}
        except Exception as err:
            reasons.append(f"response_url: {reason(err)}")
    log.error("lost %s to %s: %s", what, channel, "; ".join(reasons))
    return None


async def ephemeral(client: AsyncWebClient, channel: str, user: str, text: str, respond: Respond | None = None) -> bool:
    """A private reply; falls back to `response_url`; a loss is logged with its reasons."""
    reasons: list[str] = []
    try:
        await client.chat_postEphemeral(channel=channel, user=user, text=text)
        return True
    except SLACK_ERRORS as err:
        reasons.append(f"chat.postEphemeral: {reason(err)}")
    if respond is not None:
        try:
            ensure_ok(await retrying(respond)(text=text, response_type="ephemeral", replace_original=False))
            return True
        except Exception as err:
            reasons.append(f"response_url: {reason(err)}")
    log.error("lost a private reply to %s in %s: %s", user, channel, "; ".join(reasons))
    return False


async def open_form(client: AsyncWebClient, trigger_id: object, view: dict[str, Any], what: str) -> str | None:
    """`views.open`; None when the form opened, else what to tell the user (the loss is logged)."""
    if not isinstance(trigger_id, str) or not trigger_id:
        return f"Slack sent no way to open the {what} form: run the command again."
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
        return None
    except SLACK_ERRORS as err:
        log.error("lost the %s form: views.open: %s", what, reason(err))
        return f"Slack did not open the {what} form ({reason(err)}): try again."


class Pacer:
    """Per-channel token bucket: `burst` messages at once, then `rate` per second (Slack allows
    about one message per second per channel; the alert intake posts through one)."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.state: dict[str, tuple[float, float]] = {}
        self.locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def wait(self, channel: str) -> None:
        async with self.locks[channel]:
            now = time.monotonic()
            tokens, last = self.state.get(channel, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens < 1:
                await asyncio.sleep((1 - tokens) / self.rate)
                now, tokens = time.monotonic(), 1.0
            self.state[channel] = (tokens - 1, now)


async def permalink(client: AsyncWebClient, channel: str, ts: str) -> str:
    """A link to the message (chat.getPermalink), or the archive link Slack's permalinks take."""
    try:
        resp = await client.chat_getPermalink(channel=channel, message_ts=ts)
        return str(resp["permalink"])
    except (SlackApiError, KeyError):
        return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"
