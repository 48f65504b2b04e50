"""The recovery checklist's items alp can judge itself, judged when an incident is resolved.

The bot hands the engine a `JudgeRecovery` (commands/graph/recovery.py for alert-born incidents:
"Check monitoring dashboards" from the alert expressions in Prometheus, "Clear any alerts" from
Alertmanager). Its report is recorded as the resolve's re-check verdict (a "check" entry whose data
carries `checklist`: {item: {"state": "done" | "not done" | "unknown", "evidence": [line, ...]}}),
and the items judged done are ticked by alp; those not done or unknown stay for a person, the
checklist message saying why (bot/render/incident_blocks.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from commands.report import Report
from escalation.ladder.pages import taken_at
from escalation.model import Incident, TimelineEntry, TimelineKind
from escalation.state.store import Store

log = logging.getLogger(__name__)

# incident -> the judged items as a report (data["checklist"]), or None when alp judges none for it
JudgeRecovery = Callable[[Incident], Awaitable[Report | None]]
TICKER = "alp"
TRIES = 3  # a tick is conditional on the incident's version: another change meanwhile, read again


async def judge_recovery(store: Store, inc: Incident, judge: JudgeRecovery, why: str) -> bool:
    """Judge, record the verdict with `why`, tick the items judged done; whether a verdict was recorded.
    A failing judge is logged (the resolve stands; the items stay for a person)."""
    try:
        report = await judge(inc)
    except Exception as err:
        log.warning("%s: the recovery checklist was not judged: %s", inc.ref, err)
        return False
    if report is None:
        return False
    text, data = report.verdict(why)
    checklist: dict[str, Any] = dict(report.redacted().data.get("checklist") or {})
    data["checklist"] = checklist
    await store.log(inc.id, TICKER, TimelineKind.CHECK, text, data)
    for item, judged in checklist.items():
        if judged.get("state") != "done":
            continue
        for _ in range(TRIES):
            now = await store.get(inc.id)
            if now is None or item not in now.checklist or now.checklist[item]:
                break
            if await store.tick(inc.id, item, True, TICKER):
                break
    return True


def judged_items(entries: list[TimelineEntry]) -> tuple[dict[str, dict[str, Any]], str]:
    """The newest judgement of the checklist in an incident's timeline: its items and when it was
    read ("HH:MM:SSZ"); ({}, "") when none was recorded."""
    judged = [e for e in entries if e.kind == TimelineKind.CHECK and isinstance(e.data.get("checklist"), dict)]
    if not judged:
        return {}, ""
    newest = max(judged, key=taken_at)
    return dict(newest.data["checklist"]), f"{taken_at(newest):%H:%M:%SZ}"
