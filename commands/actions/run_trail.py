"""A remediation run's durable trail (the flow's `_run` writes it; README, "How it holds up"):
the process running an action vouches for it in the state store (`run_by`, `run_until`, renewed
every third of `actions.run_lease_s`), so whoever leads can tell a run whose process died and
finish it as interrupted: once, its per-target lock released, audited, its message updated and
its check re-run, so it can be run again at once."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from commands.actions.locks import TargetLock
from commands.actions.request import label
from commands.actions.runner import find
from commands.config import ChecksConfig

if TYPE_CHECKING:
    from commands.actions.flow import RemediationFlow

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted: the process running it stopped mid-run; what it changed is not known"


def runner_id() -> str:
    """This process, as a running request names it (`run_by`)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def vouch_until(cfg: ChecksConfig) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=cfg.actions.run_lease_s)


async def vouch(requests: Any, cfg: ChecksConfig, request_id: int, me: str) -> None:
    """While the action runs (cancelled when it ends): renew `me`'s claim every third of the lease."""
    while True:
        await asyncio.sleep(cfg.actions.run_lease_s / 3)
        try:
            await requests.heartbeat(request_id, me, vouch_until(cfg))
        except Exception as err:  # the state store is away: the next beat tries again
            log.warning("renewing request #%s's run: %s", request_id, err)


async def stored_run(requests: Any, cfg: ChecksConfig, request_id: int, me: str) -> Any:
    """After a move to RUNNING whose answer was lost (the store went away around its COMMIT): the
    request (an `ActionRequest`) if the move was stored, i.e. it is `me`'s run (vouching for it
    succeeds), so the approval or confirmation runs instead of being lost; None if it was not, or
    the store did not answer within half the run lease (then whoever leads finishes the stored run
    as interrupted)."""
    deadline = time.monotonic() + cfg.actions.run_lease_s / 2
    while time.monotonic() < deadline:
        try:
            if not await requests.heartbeat(request_id, me, vouch_until(cfg)):
                return None
            return await requests.get(request_id)
        except Exception as err:
            log.warning("request #%s: was its run stored? the state store does not answer: %s", request_id, err)
            await asyncio.sleep(0.5)
    return None


async def recover_interrupted(flow: RemediationFlow) -> int:
    """Every run whose process stopped vouching for it, finished as interrupted (once, whoever
    leads); returns how many."""
    from commands.actions.flow import release

    recovered = 0
    for req in await flow.log.stale_runs(datetime.now(UTC)):
        ended = await flow.log.interrupt(req.id, datetime.now(UTC), {"ok": False, "summary": INTERRUPTED})
        if ended is None:
            continue  # it vouched again, or another leader took it
        recovered += 1
        spec = find(ended.action)
        runner = ended.approver or ended.confirmed_by or ended.requester
        await release(TargetLock(flow.cfg, ended.target, f"{runner}#{ended.id}"))
        await flow.audit(
            "alp", "interrupted", spec.name, ended.params, f"request #{ended.id}: {INTERRUPTED}", ended.channel
        )
        data = {"action": spec.name, "ok": False}
        await flow.log.record_step(ended.channel, "alp", f"{label(spec.name, ended.params)}: {INTERRUPTED}", data)
        await flow.notifier.interrupted(spec, ended)
        if spec.verify and not flow.cfg.actions.dry_run:
            await flow.verify(spec, ended)
    return recovered
