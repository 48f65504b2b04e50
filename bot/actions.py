"""Remediations from Slack: request -> preview -> confirm (-> second approval) -> run once -> audit.

Authorization is checked when someone confirms or approves, not when the button was posted;
button payloads are signed and expire; each request moves through its states by conditional
UPDATEs, so double clicks and Slack retries run it once; a per-target Redis lock stops two
actions on the same target; every step is written to the audit log.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import render_action as ui
from bot.escape import clean, escape, inline
from bot.incidents import form_value
from bot.metrics import Metrics
from bot.render_slack import render_report
from bot.settings import Settings
from bot.signing import TokenError, key_from, sign, verify
from bot.slack_client import SLACK_ERRORS, deliver, ephemeral, open_form, reason
from commands.actions import ACTIONS
from commands.actions.locks import TargetLock
from commands.actions.registry import ActionContext, ActionSpec, Outcome, Preview, Risk
from commands.actions.runner import execute, find, preview, validate
from commands.params import UsageError
from commands.redact import redact, redact_data
from commands.registry import CHECKS, CheckContext
from commands.runner import run_check
from escalation.engine import Escalator

log = logging.getLogger(__name__)


class Authorizer:
    """Who may run which risk: Slack user IDs, user-group IDs (resolved and cached), or '*'."""

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


def _preview_dict(p: Preview) -> dict[str, Any]:
    return {"lines": p.lines, "before": p.before, "after": p.after, "items": p.items, "target": p.target}


def _preview_of(d: dict[str, Any]) -> Preview:
    return Preview(d["lines"], d["before"], d["after"], d["items"], None, d["target"])


class ActionFlow:
    def __init__(
        self, settings: Settings, client: AsyncWebClient, escalator: Escalator, metrics: Metrics | None = None
    ) -> None:
        self.settings, self.client, self.escalator, self.metrics = settings, client, escalator, metrics
        if settings.slack_signing_secret is None or not settings.slack_signing_secret.get_secret_value():
            raise ValueError("SLACK_SIGNING_SECRET is required: it signs the action buttons")
        self.key = key_from(settings.slack_signing_secret.get_secret_value())
        self.requests = escalator.action_requests()
        self.authz = Authorizer(settings, client)

    # ------------------------------------------------------------------ tokens
    def token(self, data: dict[str, Any]) -> str:
        return sign(data, self.key, self.settings.actions.request_ttl_s)

    def request_button(self, action: str, params: dict[str, Any], channel: str | None = None) -> str | None:
        """A signed value for a suggestion's button, bound to the channel it is posted in; None
        if no action has that name, or if its parameters hold a secret (no secret in a button)."""
        if not ACTIONS.get(action) or redact_data(params) != params:
            return None
        return self.token({"a": action, "p": params, **({"c": channel} if channel else {})})

    async def audit(
        self, actor: str, event: str, action: str, params: dict[str, Any], result: str = "", channel: str | None = None
    ) -> None:
        clean_params = redact_data(params)
        assert isinstance(clean_params, dict)
        await self.escalator.record_audit(actor, event, action, clean_params, redact(result), channel or "")
        if self.metrics is not None:
            outcome = result.split(":", 1)[0] if event == "outcome" else event
            self.metrics.actions.labels(action=action, event=outcome).inc()

    # ------------------------------------------------------------------ request and preview
    async def request(
        self,
        action: str,
        raw: dict[str, Any],
        user: str,
        channel: str,
        thread_ts: str | None = None,
        trigger_id: str | None = None,
    ) -> str | None:
        """Preview and post a confirmation; returns a private reply for the user, if any."""
        try:
            spec = find(action)
            params = validate(spec, raw)
        except UsageError as err:
            missing = self._missing(action, raw)
            if trigger_id and missing:
                meta = json.dumps({"a": action, "p": raw, "c": channel, "t": thread_ts})
                return await open_form(self.client, trigger_id, ui.params_modal(find(action), raw, meta), action)
            await self.audit(user, "refused", action, raw, str(err), channel)
            return escape(redact(str(err)))
        ctx = ActionContext(self.settings)
        pre = await preview(spec, ctx, params)
        clean = params.model_dump(mode="json", exclude_none=True)
        await self.audit(
            user, "dry-run", spec.name, clean, redact("; ".join(pre.lines))[:2000] or (pre.refusal or ""), channel
        )
        if pre.refusal:
            await self.audit(user, "refused", spec.name, clean, pre.refusal, channel)
            return f":no_entry: {inline(ui.label(spec.name, clean))} refused: {escape(redact(pre.refusal))}"
        rid = await self.requests.create(
            spec.name,
            clean,
            spec.risk.value,
            user,
            channel,
            self.settings.actions.request_ttl_s,
            _preview_dict(pre),
            thread_ts,
        )
        await self.audit(user, "requested", spec.name, clean, f"request #{rid}", channel)
        req = await self.requests.get(rid)
        assert req is not None
        text, blocks = ui.confirmation(
            spec,
            req,
            self.authz.describe(spec.risk),
            self.token({"r": rid, "s": "confirm"}),
            self.token({"r": rid, "s": "cancel"}),
            self.settings.actions.dry_run,
        )
        try:
            resp = await self.client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, blocks=blocks)
        except SLACK_ERRORS as err:
            await self.requests.move(rid, ("pending",), "cancelled")
            await self.audit(user, "refused", spec.name, clean, f"cannot post the confirmation: {reason(err)}")
            return (
                f"I cannot post the confirmation here ({escape(reason(err))}): invite me with "
                "`/invite @alp`, or run it from the on-call channel. Nothing was changed."
            )
        await self.requests.set_message(rid, str(resp["ts"]))
        full = ui.preview_attachment(req["preview"]["lines"])
        if full:  # the message names what fits and how many more: the file names everything
            await self._attach(str(resp.get("channel", channel)), str(resp["ts"]), full, f"request-{rid}-preview.txt")
        return None

    async def _attach(self, channel: str, ts: str, content: str, filename: str) -> None:
        try:
            await self.client.files_upload_v2(channel=channel, thread_ts=ts, content=content, filename=filename)
        except SLACK_ERRORS as err:
            log.warning("cannot upload %s (%s); posting it as text", filename, reason(err))
            await deliver(self.client, channel, content[:35_000], thread_ts=ts, what=filename)

    @staticmethod
    def _missing(action: str, raw: dict[str, Any]) -> list[str]:
        spec = ACTIONS.get(action)
        if spec is None:
            return []
        return [n for n, f in spec.params.model_fields.items() if f.is_required() and n not in raw and n != "values"]

    # ------------------------------------------------------------------ clicks
    async def _load(self, token: str, step: str, user: str) -> tuple[dict[str, Any], ActionSpec] | str:
        try:
            data = verify(token, self.key)
        except TokenError as err:
            await self.audit(user, "refused", "?", {}, str(err))
            return str(err)
        if data.get("s") != step or not isinstance(data.get("r"), int):
            await self.audit(user, "refused", "?", {}, "button used for another step")
            return "this button does not do that (edited?)"
        req = await self.requests.get(data["r"])
        if req is None:
            return "no such request"
        return req, find(req["action"])

    async def _update(self, req: dict[str, Any], text: str, blocks: list[dict[str, Any]]) -> None:
        """The request's message shows its new state (or a new message in its thread says it)."""
        if req.get("message_ts"):
            await deliver(
                self.client,
                req["channel"],
                text,
                blocks,
                ts=req["message_ts"],
                thread_ts=req["message_ts"],
                what=f"request #{req['id']}",
            )

    async def confirm(self, token: str, user: str) -> str | None:
        loaded = await self._load(token, "confirm", user)
        if isinstance(loaded, str):
            return loaded
        req, spec = loaded
        if req["expires_at"] < datetime.now(UTC):
            if await self.requests.move(req["id"], ("pending",), "expired"):
                await self.audit(user, "refused", spec.name, req["params"], "expired", req["channel"])
                await self._update(req, *ui.closed(spec, req, ":hourglass: expired; nothing was changed"))
            return "this request has expired; nothing was changed"
        if not await self.authz.allowed(user, spec.risk):
            await self.audit(
                user, "refused", spec.name, req["params"], f"not authorized for {spec.risk.value}", req["channel"]
            )
            return (
                f"You may not run {spec.risk.value} actions. Who may: {self.authz.describe(spec.risk)}. "
                "Nothing was changed."
            )
        if spec.risk is Risk.DESTRUCTIVE:
            deadline = datetime.now(UTC) + timedelta(seconds=self.settings.actions.approval_timeout_s)
            if not await self.requests.move(
                req["id"], ("pending",), "awaiting_approval", confirmed_by=user, approval_deadline=deadline
            ):
                return await self._already(req["id"])
            await self.audit(user, "confirmed", spec.name, req["params"], "awaiting a second approval", req["channel"])
            req = await self.requests.get(req["id"]) or req
            await self._update(
                req,
                *ui.awaiting_approval(
                    spec,
                    req,
                    self.authz.describe(spec.risk),
                    self.token({"r": req["id"], "s": "approve"}),
                    self.token({"r": req["id"], "s": "cancel"}),
                ),
            )
            return None
        return await self._run(req, spec, user, ("pending",), confirmed_by=user)

    async def approve(self, token: str, user: str) -> str | None:
        loaded = await self._load(token, "approve", user)
        if isinstance(loaded, str):
            return loaded
        req, spec = loaded
        if req["status"] != "awaiting_approval":
            return await self._already(req["id"])
        if user == req["confirmed_by"] or user == req["requester"]:
            await self.audit(user, "refused", spec.name, req["params"], "self-approval", req["channel"])
            return "You cannot approve your own request: a second person must."
        if req["approval_deadline"] and req["approval_deadline"] < datetime.now(UTC):
            if await self.requests.move(req["id"], ("awaiting_approval",), "expired"):
                await self.audit(user, "refused", spec.name, req["params"], "approval window expired", req["channel"])
                await self._update(
                    req, *ui.closed(spec, req, ":hourglass: approval window expired; nothing was changed")
                )
            return "The approval window has expired; nothing was changed."
        if not await self.authz.allowed(user, spec.risk):
            await self.audit(
                user, "refused", spec.name, req["params"], f"not authorized for {spec.risk.value}", req["channel"]
            )
            return f"You may not approve {spec.risk.value} actions. Who may: {self.authz.describe(spec.risk)}."
        await self.audit(user, "approved", spec.name, req["params"], "", req["channel"])
        return await self._run(req, spec, user, ("awaiting_approval",), approver=user)

    async def cancel(self, token: str, user: str) -> str | None:
        loaded = await self._load(token, "cancel", user)
        if isinstance(loaded, str):
            return loaded
        req, spec = loaded
        if user not in (req["requester"], req.get("confirmed_by")) and not await self.authz.allowed(user, spec.risk):
            await self.audit(user, "refused", spec.name, req["params"], "cancel by someone else", req["channel"])
            return (
                f"Only <@{req['requester']}> or someone allowed to run {spec.risk.value} actions "
                f"({self.authz.describe(spec.risk)}) may cancel request #{req['id']}."
            )
        if not await self.requests.move(req["id"], ("pending", "awaiting_approval"), "cancelled"):
            return await self._already(req["id"])
        await self.audit(user, "cancelled", spec.name, req["params"], "", req["channel"])
        await self._update(req, *ui.closed(spec, req, f":heavy_multiplication_x: cancelled by <@{user}>"))
        return None

    async def _already(self, request_id: int) -> str:
        req = await self.requests.get(request_id) or {}
        by = req.get("confirmed_by") or req.get("approver")
        return f"Request #{request_id} is already {req.get('status', '?')}" + (f" (by <@{by}>)" if by else "") + "."

    # ------------------------------------------------------------------ run
    async def _run(
        self, req: dict[str, Any], spec: ActionSpec, user: str, from_status: tuple[str, ...], **values: Any
    ) -> str | None:
        lock = TargetLock(self.settings, req["preview"]["target"] or spec.name, f"{user}#{req['id']}")
        holder = await lock.acquire()
        if holder is not None:
            who = holder.split("#")[0]
            return f"Another action on `{req['preview']['target']}` is already running (by <@{who}>); try again when it ends."
        try:
            if not await self.requests.move(req["id"], from_status, "running", **values):
                return await self._already(req["id"])  # a double click or a Slack retry: it runs once
            ctx = ActionContext(self.settings)
            params = validate(spec, req["params"])
            if self.settings.actions.dry_run:
                outcome = Outcome(True, "dry-run mode: nothing was changed (the preview above is what would happen)")
            else:
                outcome = await execute(spec, ctx, params, _preview_of(req["preview"]))
        finally:
            await lock.release()
        status = "done" if outcome.ok else "failed"
        result = {
            "ok": outcome.ok,
            "summary": outcome.summary,
            "before": outcome.before,
            "after": outcome.after,
            "details": outcome.details,
            "undo": list(outcome.undo) if outcome.undo and outcome.ok else None,  # old values stay server-side
        }
        await self.requests.move(req["id"], ("running",), status, outcome=json.loads(json.dumps(result, default=str)))
        approver = values.get("approver")
        who = f"<@{req.get('confirmed_by') or user}>" + (f", approved by <@{approver}>" if approver else "")
        await self.audit(user, "outcome", spec.name, req["params"], f"{status}: {outcome.summary}", req["channel"])
        inc = await self.escalator.open_in_channel(req["channel"])
        if inc:
            await self.escalator.record(
                inc.id,
                user,
                "action",
                f"{ui.label(spec.name, req['params'])}: {outcome.summary}",
                {"action": spec.name, "ok": outcome.ok},
            )
        undo = self.token({"u": req["id"]}) if outcome.undo and outcome.ok else None  # a reference, no values
        req = await self.requests.get(req["id"]) or req
        await self._update(req, *ui.outcome_blocks(spec, req, outcome, who, undo))
        full = ui.preview_attachment(ui.outcome_changes(outcome))
        if full and req.get("message_ts"):  # the message says how many more: the file has them all
            await self._attach(req["channel"], req["message_ts"], full, f"request-{req['id']}-outcome.txt")
        if spec.verify and outcome.ok and not self.settings.actions.dry_run:
            await self._verify(spec, req)
        return None

    async def _verify(self, spec: ActionSpec, req: dict[str, Any]) -> None:
        """Re-run the related check and show it beside the outcome: did it help?"""
        check = CHECKS.get(spec.verify or "")
        if check is None:
            return
        raw = {"group": req["params"]["group"]} if spec.verify == "kafka-lag" and "group" in req["params"] else {}
        report = await run_check(check, CheckContext(self.settings), check.params.model_validate(raw))
        msg = render_report(report)
        out = await deliver(
            self.client,
            req["channel"],
            f"After {spec.name}: {msg.text}",
            msg.blocks,
            thread_ts=req["message_ts"],
            what=f"the check after request #{req['id']}",
        )
        if out and msg.attachment and "ts" in out:
            await self._attach(out["channel"], req["message_ts"], msg.attachment, f"{check.name}-report.txt")

    # ------------------------------------------------------------------ audit
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
        req = await self.requests.get(data["u"]) if isinstance(data.get("u"), int) else None
        undo = (req or {}).get("outcome", {}) or {}
        if not isinstance(undo, dict) or not undo.get("undo"):
            return "there is nothing to undo for this request"
        action, params = undo["undo"]
        return str(action), dict(params), str((req or {}).get("channel") or "")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… (+{len(text) - limit} characters)"


def _actor(actor: str) -> str:
    """A Slack user ID as a mention; anything else (a terminal user's name) as escaped text."""
    return f"<@{actor}>" if actor[:1] in ("U", "W") and actor.isalnum() and actor.isascii() else escape(actor)


def register_action_handlers(app: AsyncApp, flow: ActionFlow) -> None:
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
            else:
                data = verify(value, flow.key)
                action, params, bound = str(data.get("a", "")), dict(data.get("p") or {}), str(data.get("c") or "")
        except (TokenError, ValueError, TypeError, KeyError) as err:
            await flow.audit(user, "refused", "?", {}, str(err))
            await reply(client, body, f":no_entry: {escape(err)}", respond)
            return
        if bound and bound != channel:  # a finding's button belongs to the message it was posted in
            await flow.audit(user, "refused", action, params, f"button from {bound} clicked in {channel}")
            await reply(client, body, ":no_entry: this button belongs to a message in another channel", respond)
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

    for step in ("confirm", "approve", "cancel"):

        def make(step: str) -> Any:
            async def handler(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
                await ack()
                token, user = str(body["actions"][0].get("value") or ""), body["user"]["id"]
                await reply(client, body, await getattr(flow, step)(token, user), respond)

            return handler

        app.action(f"alp_action_{step}")(make(step))
