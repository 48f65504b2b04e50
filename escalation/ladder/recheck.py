"""Running an incident's checks again so that what it says is true now: before a page is sent and
when it is resolved (the action flow records its own re-check after a remediation).

Each check recorded in the incident (its newest verdict's target and parameters) runs again, all at
once, for at most a bound; each answer is a new "check" entry (`Report.verdict`), so pages show the
newest verdict first with the earlier ones as history, and the postmortem's timeline has them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from commands.report import Report
from escalation.ladder.pages import taken_at, verdicts
from escalation.model import Incident, TimelineKind
from escalation.state.store import Store

log = logging.getLogger(__name__)

# (check target, its parameters) -> its report, or None when no such check is known here
RunCheck = Callable[[str, dict[str, Any]], Awaitable[Report | None]]


async def recheck(store: Store, inc: Incident, run: RunCheck, why: str, bound_s: float) -> int:
    """Run the incident's checks again for at most `bound_s` seconds, recording each verdict with
    `why` ("before paging secondary", "on resolve"); how many were recorded. A check still running
    at the bound is left out (the page says its last verdict, with that verdict's time)."""
    if bound_s <= 0:
        return 0
    current, _ = verdicts(await store.timeline(inc.id))
    if not current:
        return 0

    async def one(target: str, params: dict[str, Any]) -> bool:
        report = await run(target, params)
        if report is None:
            return False
        text, data = report.verdict(why, params)
        await store.log(inc.id, "alp", TimelineKind.CHECK, text, data)
        return True

    tasks = [asyncio.create_task(one(str(e.data["target"]), dict(e.data.get("params") or {}))) for e in current]
    done, pending = await asyncio.wait(tasks, timeout=bound_s)
    for t in pending:
        t.cancel()
    if pending:
        log.warning("%s: %d check(s) did not finish within %gs before %s", inc.ref, len(pending), bound_s, why)
    return sum(1 for t in done if not t.cancelled() and t.exception() is None and t.result())


async def superseded(store: Store, channel: str, target: str, read_at: datetime) -> str | None:
    """Why a remedy button under a `target` report read at `read_at` in `channel` must not act any
    more, or None: the channel's incident was resolved after the report was read, or a newer
    verdict of the same check says OK (the evidence the button rests on is gone)."""
    inc = await store.newest_in_channel(channel)
    if inc is None or inc.opened_at > read_at + timedelta(hours=24):
        return None
    read = f"{read_at:%H:%M:%SZ}"
    if inc.resolved_at is not None and inc.resolved_at > read_at:
        return (
            f"{inc.ref} was resolved at {inc.resolved_at:%H:%M:%SZ}, after the report this button is part of "
            f"was read ({read}); run `/alp check {target}` to see what is true now"
        )
    newer = [e for e in verdicts(await store.timeline(inc.id))[0] if e.data.get("target") == target]
    if newer and taken_at(newer[0]) > read_at and newer[0].data.get("severity") == "ok":
        return (
            f"the report this button is part of ({read}) is superseded: {target} was OK at "
            f"{taken_at(newer[0]):%H:%M:%SZ} ({newer[0].data.get('why') or 're-checked'}); "
            f"run `/alp check {target}` to see what is true now"
        )
    return None
