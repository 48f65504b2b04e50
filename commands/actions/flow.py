"""The remediation flow, without Slack: request -> preview -> confirm (-> second approval) ->
per-target lock -> run once -> audit -> verify.

The rules (README, "Remediation"; the runbook's remediation steps name the actions):
- authorization is asked when someone confirms, approves or cancels, not when the request was made;
- a destructive action needs a second authorized person, never the requester or the confirmer
  (where the authorizer enforces it: the terminal's operator acts with their own credentials);
- a request moves between states only by conditional updates, so double clicks, two people at
  once and retries run it once; a per-target lock (Redis) keeps two actions off one target;
- every step (dry run, request, confirmation, approval, start, refusal, cancellation, outcome,
  interruption) is audited, masked; an action run in an incident's channel joins its steps taken;
- afterwards the related check re-runs, so the outcome sits beside the evidence that it helped;
- a run leaves a durable trail: the process running it vouches for it (`run_by`, renewed every
  third of `actions.run_lease_s`); a run whose process died is marked interrupted by whoever leads
  (`recover_interrupted`), its lock released, audited, its message updated and its check re-run,
  so it can be run again at once.

The flow reaches storage through `RequestLog` (escalation/state/request_log.py) and people through an
`Authorizer` and a `FlowNotifier` (Slack in bot/remediation/notifier.py, the terminal in
bot/remediation/terminal.py), all three in `commands.actions.ports`; its refusals are data
(`commands.actions.refusal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from commands.actions.locks import TargetLock
from commands.actions.ports import AlertsOf, Authorizer, FlowNotifier, RequestLog
from commands.actions.refusal import Click, Closed, NotDelivered, Reason, Refusal
from commands.actions.registry import ActionContext, ActionSpec, Outcome, Preview, Risk
from commands.actions.request import ActionRequest, RequestStatus, label, preview_json
from commands.actions.run_trail import recover_interrupted, runner_id, stored_run, vouch, vouch_until
from commands.actions.runner import execute, find, preview, validate, why
from commands.backends.errors import BackendError
from commands.config import ChecksConfig
from commands.graph.alert_graph import alert_graphs, recovery_findings
from commands.masking.redact import redact, redact_data
from commands.params import UsageError
from commands.registry import AuditReader, CheckContext, OncallEvidence
from commands.report import Finding, Severity
from commands.runner import run_check
from commands.runtime.clock import SYSTEM_CLOCK, Clock

log = logging.getLogger(__name__)


class RemediationFlow:
    """One flow for Slack and the terminal. `count(action, event)` (optional) counts audit events."""

    def __init__(
        self,
        cfg: ChecksConfig,
        log: RequestLog,
        authorizer: Authorizer,
        notifier: FlowNotifier,
        count: Callable[[str, str], None] | None = None,
        audit_reader: AuditReader | None = None,
        oncall: OncallEvidence | None = None,
        clock: Clock = SYSTEM_CLOCK,
        alerts_of: AlertsOf | None = None,
    ) -> None:
        """`clock`: when a request's time to live and an approval window run out (commands/runtime/clock.py)."""
        self.cfg, self.log, self.authorizer, self.notifier, self.count = cfg, log, authorizer, notifier, count
        self.audit_reader = audit_reader  # for the checks that verify an action (their changes line)
        self.oncall = oncall  # likewise (health's on-call line)
        self.clock = clock
        self.alerts_of = alerts_of  # the alerts behind the incident in a channel: their expressions judge recovery

    async def audit(
        self, actor: str, event: str, action: str, params: dict[str, Any], result: str = "", channel: str = ""
    ) -> None:
        """One audit row, masked (parameters by key, the result by content)."""
        clean = redact_data(params)
        assert isinstance(clean, dict)
        await self.log.audit(actor, event, action, clean, redact(result), channel)
        if self.count is not None:
            self.count(action, result.split(":", 1)[0] if event == "outcome" else event)

    # ------------------------------------------------------------------ request and preview
    async def request(
        self,
        action: str,
        raw: dict[str, Any],
        user: str,
        channel: str = "",
        thread_ts: str | None = None,
        submit: bool = True,
    ) -> ActionRequest | Preview | Refusal:
        """Validate and preview; with `submit`, store the request and show it for confirmation.
        Returns the request (PENDING), the preview alone (not `submit`), or a refusal."""
        try:
            spec = find(action)
            params = validate(spec, raw)
        except UsageError as err:
            await self.audit(user, "refused", action, raw, str(err), channel)
            return Refusal(Reason.INVALID, str(err), action, raw)
        pre = await preview(spec, ActionContext(self.cfg), params)
        clean = params.model_dump(mode="json", exclude_none=True)
        shown = redact("; ".join(pre.lines))[:2000] or (pre.refusal or "")
        await self.audit(user, "dry-run", spec.name, clean, shown, channel)
        await self.notifier.previewed(spec, clean, pre)
        if pre.refusal:
            await self.audit(user, "refused", spec.name, clean, pre.refusal, channel)
            return Refusal(Reason.PREVIEW, pre.refusal, spec.name, clean, spec.risk)
        if not submit:
            return pre
        ttl = self.cfg.actions.request_ttl_s
        req = await self.log.create(spec.name, clean, spec.risk, user, channel, ttl, preview_json(pre), thread_ts)
        await self.audit(user, "requested", spec.name, clean, f"request #{req.id}", channel)
        try:
            ts = await self.notifier.requested(spec, req)
        except NotDelivered as err:
            await self.log.move(req.id, (RequestStatus.PENDING,), RequestStatus.CANCELLED)
            await self.audit(user, "refused", spec.name, clean, f"cannot post the confirmation: {err}", channel)
            return Refusal(Reason.NOT_DELIVERED, str(err), spec.name, clean, spec.risk, request=req)
        if ts:
            await self.log.set_message(req.id, ts)
        req = await self.log.get(req.id) or req
        await self.notifier.posted(spec, req)
        return req

    # ------------------------------------------------------------------ confirm, approve, cancel
    async def confirm(self, request_id: int, user: str) -> ActionRequest | Refusal:
        """`user` confirms: refused, awaiting a second person (destructive), or run (DONE/FAILED)."""
        req = await self.log.get(request_id)
        if req is None:
            return Refusal(Reason.NO_REQUEST)
        spec = find(req.action)
        if req.status not in (
            RequestStatus.PENDING,
            RequestStatus.EXPIRED,
        ):  # a late double click: it ran, or awaits approval
            return await self._already(req)
        if req.expires_at < self.clock.now():
            if await self.log.move(req.id, (RequestStatus.PENDING,), RequestStatus.EXPIRED):
                await self.audit(user, "refused", spec.name, req.params, "expired", req.channel)
                await self.notifier.closed(spec, req, Closed.EXPIRED, user)
            return Refusal(Reason.EXPIRED, request=req)
        if not await self.authorizer.allowed(user, spec.risk):
            await self.audit(user, "refused", spec.name, req.params, f"not authorized for {spec.risk}", req.channel)
            return Refusal(Reason.UNAUTHORIZED, risk=spec.risk, click=Click.CONFIRM, request=req)
        if spec.risk is Risk.DESTRUCTIVE and self.authorizer.two_person:
            deadline = self.clock.now() + timedelta(seconds=self.cfg.actions.approval_timeout_s)
            waiting = await self.log.move(
                req.id,
                (RequestStatus.PENDING,),
                RequestStatus.AWAITING_APPROVAL,
                confirmed_by=user,
                approval_deadline=deadline,
            )
            if waiting is None:
                return await self._already(req)
            await self.audit(user, "confirmed", spec.name, req.params, "awaiting a second approval", req.channel)
            await self.notifier.awaiting_approval(spec, waiting)
            return waiting
        return await self._run(req, spec, user, (RequestStatus.PENDING,), confirmed_by=user)

    async def approve(self, request_id: int, user: str) -> ActionRequest | Refusal:
        """The second person approves a confirmed destructive request: refused, or run."""
        req = await self.log.get(request_id)
        if req is None:
            return Refusal(Reason.NO_REQUEST)
        spec = find(req.action)
        if req.status is not RequestStatus.AWAITING_APPROVAL:
            return await self._already(req)
        if user in (req.confirmed_by, req.requester):
            await self.audit(user, "refused", spec.name, req.params, "self-approval", req.channel)
            return Refusal(Reason.SELF_APPROVAL, request=req)
        if req.approval_deadline and req.approval_deadline < self.clock.now():
            if await self.log.move(req.id, (RequestStatus.AWAITING_APPROVAL,), RequestStatus.EXPIRED):
                await self.audit(user, "refused", spec.name, req.params, "approval window expired", req.channel)
                await self.notifier.closed(spec, req, Closed.APPROVAL_EXPIRED, user)
            return Refusal(Reason.APPROVAL_EXPIRED, request=req)
        if not await self.authorizer.allowed(user, spec.risk):
            await self.audit(user, "refused", spec.name, req.params, f"not authorized for {spec.risk}", req.channel)
            return Refusal(Reason.UNAUTHORIZED, risk=spec.risk, click=Click.APPROVE, request=req)
        return await self._run(req, spec, user, (RequestStatus.AWAITING_APPROVAL,), approver=user)

    async def cancel(self, request_id: int, user: str) -> ActionRequest | Refusal:
        """The requester, the confirmer or anyone allowed the risk cancels a request not yet run."""
        req = await self.log.get(request_id)
        if req is None:
            return Refusal(Reason.NO_REQUEST)
        spec = find(req.action)
        if user not in (req.requester, req.confirmed_by) and not await self.authorizer.allowed(user, spec.risk):
            await self.audit(user, "refused", spec.name, req.params, "cancel by someone else", req.channel)
            return Refusal(Reason.UNAUTHORIZED, risk=spec.risk, click=Click.CANCEL, request=req)
        cancelled = await self.log.move(
            req.id, (RequestStatus.PENDING, RequestStatus.AWAITING_APPROVAL), RequestStatus.CANCELLED
        )
        if cancelled is None:
            return await self._already(req)
        await self.audit(user, "cancelled", spec.name, req.params, "", req.channel)
        await self.notifier.closed(spec, cancelled, Closed.CANCELLED, user)
        return cancelled

    async def _already(self, req: ActionRequest) -> Refusal:
        return Refusal(Reason.ALREADY, request=await self.log.get(req.id) or req)

    # ------------------------------------------------------------------ run, verify, undo
    async def _run(
        self, req: ActionRequest, spec: ActionSpec, user: str, from_status: tuple[RequestStatus, ...], **values: Any
    ) -> ActionRequest | Refusal:
        lock = TargetLock(self.cfg, req.target, f"{user}#{req.id}")
        try:
            holder = await lock.acquire()
        except BackendError as err:  # no lock, no run: the request stays as it was
            await self.audit(user, "refused", spec.name, req.params, f"cannot take the lock: {why(err)}", req.channel)
            return Refusal(Reason.UNAVAILABLE, why(err), spec.name, req.params, spec.risk, request=req)
        if holder is not None:
            if holder.rpartition("#")[2] == str(req.id):  # this very request runs: a double click, not a refusal
                return await self._already(req)
            who = holder.split("#")[0]
            await self.audit(user, "refused", spec.name, req.params, f"target locked by {who}", req.channel)
            return Refusal(Reason.LOCKED, who, spec.name, req.params, spec.risk, request=req)
        me = runner_id()
        try:
            try:
                running = await self.log.move(
                    req.id, from_status, RequestStatus.RUNNING, run_by=me, run_until=self._vouch_until(), **values
                )
            except Exception:
                # the answer was lost (the store went away around the COMMIT): the run may be stored
                running = await stored_run(self.log, self.cfg, req.id, me)
                if running is None:
                    raise  # not stored (or the store stayed away): the request stays as it was
            if running is None:
                return await self._already(req)  # a double click or a retry: it runs once
            heartbeat = asyncio.create_task(self._vouch(req.id, me))
            try:
                # audited once it is sure to run: not a refused or losing click
                await self.audit(
                    user, "approved" if "approver" in values else "confirmed", spec.name, req.params, "", req.channel
                )
                await self.audit(user, "started", spec.name, req.params, f"request #{req.id} on {me}", req.channel)
                if self.cfg.actions.dry_run:
                    outcome = Outcome(
                        True, "dry-run mode: nothing was changed (the preview above is what would happen)"
                    )
                else:
                    params = validate(spec, req.params)
                    outcome = await execute(spec, ActionContext(self.cfg), params, req.preview)
            finally:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        finally:
            await release(lock)
        status = RequestStatus.DONE if outcome.ok else RequestStatus.FAILED
        result = {
            "ok": outcome.ok,
            "summary": outcome.summary,
            "before": outcome.before,
            "after": outcome.after,
            "details": outcome.details,
            "undo": list(outcome.undo) if outcome.undo and outcome.ok else None,  # old values stay server-side
        }
        stored = json.loads(json.dumps(result, default=str))
        # a run the leader took for dead (this process was stalled past its run lease) still records what it did
        ended = (
            await self.log.move(
                req.id, (RequestStatus.RUNNING, RequestStatus.INTERRUPTED), status, outcome=stored, run_until=None
            )
            or running
        )
        await self.audit(user, "outcome", spec.name, req.params, f"{status}: {outcome.summary}", req.channel)
        data = {"action": spec.name, "ok": outcome.ok, "params": req.params}  # params: the postmortem's proposal
        await self.log.record_step(req.channel, user, f"{label(spec.name, req.params)}: {outcome.summary}", data)
        await self.notifier.finished(spec, ended, outcome)
        if spec.verify and outcome.ok and not self.cfg.actions.dry_run:
            await self.verify(spec, ended)
        return ended

    def _vouch_until(self) -> datetime:
        return vouch_until(self.cfg)

    async def _vouch(self, request_id: int, me: str) -> None:
        await vouch(self.log, self.cfg, request_id, me)

    async def recover_interrupted(self) -> int:
        """For whoever leads (commands/actions/run_trail.py): runs whose process died are marked
        interrupted, unlocked, audited, shown and re-verified; how many."""
        return await recover_interrupted(self)

    async def verify(self, spec: ActionSpec, req: ActionRequest) -> None:
        """Re-run the related check (kafka-lag: for the group acted on) and show its report."""
        from commands.catalogue import current  # every target an action may name

        check = current().checks.get(spec.verify or "")
        if check is None:
            return
        raw = {"group": req.params["group"]} if spec.verify == "kafka-lag" and "group" in req.params else {}
        report = await run_check(
            check,
            CheckContext(self.cfg, audit_reader=self.audit_reader, oncall=self.oncall),
            check.params.model_validate(raw),
        )
        report.findings += await self._alert_expressions(req.channel)
        text, data = report.verdict(f"after {label(spec.name, req.params)}", raw)
        await self.log.record_step(req.channel, "alp", text, data, kind="check")
        await self.notifier.verified(spec, req, report)

    async def _alert_expressions(self, channel: str) -> list[Finding]:
        """Recovery judged from the alerts behind the channel's incident: each rule expression's value
        now against its threshold (commands/graph/alert_graph.py); none without alerts or Prometheus."""
        if self.alerts_of is None or not self.cfg.prometheus.url:
            return []
        try:
            alerts = await self.alerts_of(channel)
        except Exception as err:  # the state store: the re-check stands, saying what it could not read
            log.warning("alerts of %s not read: %s", channel, err)
            return [
                Finding(
                    severity=Severity.UNKNOWN,
                    title=f"alert expressions not read: the incident's alerts could not be loaded ({type(err).__name__})",
                    probe="alert-expressions",
                )
            ]
        if not alerts:
            return []
        return recovery_findings(await alert_graphs(self.cfg.prometheus, alerts, self.clock.now()))

    async def undo_of(self, request_id: int) -> tuple[str, dict[str, Any], str] | None:
        """What reverts a request that ran: (action, old values, its channel); None if nothing does."""
        req = await self.log.get(request_id)
        if req is None or req.undo is None:
            return None
        action, params = req.undo
        return action, params, req.channel


async def release(lock: TargetLock) -> None:
    """Release the target lock; if Redis is gone by now, the lock expires on its own (lock_ttl_s)."""
    try:
        await lock.release()
    except BackendError as err:
        log.warning("cannot release the lock on %s (%s): it expires on its own", lock.key, err)
