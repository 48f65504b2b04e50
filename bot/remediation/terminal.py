"""`alp do` in the terminal: the remediation flow (commands/actions/flow.py) with the operator as
its only person. The operator acts with their own credentials (kubeconfig, DSN), so Slack's
per-user permissions and two-person rule do not apply; the lock, the audit log, the stored
request and the check after the action do."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from bot.render.escape import terminal
from bot.render.report_text import render_text
from bot.settings import Settings
from commands.actions.flow import RemediationFlow
from commands.actions.refusal import Closed, Reason, Refusal
from commands.actions.registry import ActionSpec, Outcome, Preview, Risk
from commands.actions.request import ActionRequest, RequestStatus
from commands.masking.redact import redact_data
from commands.report import Report

EXIT_USAGE = 64


class OperatorAuthorizer:
    """The terminal's operator may run what their own credentials allow (the backends decide)."""

    two_person = False

    async def allowed(self, user: str, risk: Risk) -> bool:
        return True


class TerminalFlowNotifier:
    """The flow's `FlowNotifier` on stdout (what happened) and stderr (refusals)."""

    async def previewed(self, spec: ActionSpec, params: dict[str, Any], pre: Preview) -> None:
        print(f"{spec.name} (risk: {spec.risk.value})")
        for line in pre.lines:
            print(f"  {terminal(line)}")

    async def requested(self, spec: ActionSpec, req: ActionRequest) -> str | None:
        return None  # the preview above is the request

    async def posted(self, spec: ActionSpec, req: ActionRequest) -> None:
        return None

    async def awaiting_approval(self, spec: ActionSpec, req: ActionRequest) -> None:
        print(f"request #{req.id} awaits a second person's approval (in Slack)")

    async def closed(self, spec: ActionSpec, req: ActionRequest, how: Closed, by: str) -> None:
        print(f"request #{req.id} {how.value.replace('_', ' ')}; nothing was changed")

    async def finished(self, spec: ActionSpec, req: ActionRequest, outcome: Outcome) -> None:
        print(terminal(("done: " if outcome.ok else "failed: ") + outcome.summary))
        for line in outcome.details:
            print(f"  {terminal(line)}")
        if req.undo:
            action, params = req.undo
            if redact_data(params) != params:  # a masked command would write the mask: say so instead
                print("undo: not shown, the old values hold a secret (masked here); restore them by hand")
            else:
                print(
                    terminal(
                        "undo: " + shlex.join(["alp", "do", action, *(f"{k}={v}" for k, v in params.items()), "--yes"])
                    )
                )

    async def interrupted(self, spec: ActionSpec, req: ActionRequest) -> None:
        print(f"request #{req.id} was interrupted: the process running it stopped mid-run")

    async def verified(self, spec: ActionSpec, req: ActionRequest, report: Report) -> None:
        print(f"\nAfter {spec.name}:")
        print(render_text(report), end="")


def refused(r: Refusal) -> int:
    """A refusal on stderr; the exit code (64 a usage error, else 1)."""
    if r.reason is Reason.INVALID:
        print(f"alp: {terminal(r.detail)}", file=sys.stderr)  # the words typed come back: masked, no escapes
        return EXIT_USAGE
    if r.reason is Reason.LOCKED and r.request is not None:
        print(f"refused: another action on {r.request.preview.target} is running (by {r.detail})", file=sys.stderr)
        return 1
    if r.reason is Reason.UNAVAILABLE and r.request is not None:
        print(f"refused: cannot take the lock on {r.request.preview.target}: {terminal(r.detail)}", file=sys.stderr)
        return 1
    why = r.detail or (f"request #{r.request.id} is {r.request.status}" if r.request else r.reason.value)
    print(f"refused: {terminal(why)}", file=sys.stderr)
    return 1


async def do(action: str, raw: dict[str, Any], settings: Settings, yes: bool) -> int:
    """Preview; with `yes`, request, confirm and run it as $USER. Exit 0 done (or previewed),
    1 refused or failed, 64 a usage error."""
    from bot.check_context import WIRING
    from escalation.state.request_log import StateRequestLog

    actor = os.environ.get("USER", "terminal")
    log = StateRequestLog.connect(settings.state_url)
    flow = RemediationFlow(settings, log, OperatorAuthorizer(), TerminalFlowNotifier(), **WIRING)
    try:
        out = await flow.request(action, raw, actor, submit=yes)
        if isinstance(out, Refusal):
            return refused(out)
        if not isinstance(out, ActionRequest):
            print(
                "dry-run mode: nothing changed" if settings.actions.dry_run else "nothing changed: add --yes to run it"
            )
            return 0
        ran = await flow.confirm(out.id, actor)
        if isinstance(ran, Refusal):
            code = refused(ran)
            await flow.cancel(out.id, actor)  # no second click comes from here: it does not stay pending
            return code
        return 0 if ran.status is RequestStatus.DONE else 1
    finally:
        await log.close()
