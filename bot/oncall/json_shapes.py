"""The `alp --json oncall` shapes of an override's preview, its application, an undo and an error
(README, Terminal: on-call). Data only: the words are `override_flow.preview_text`'s.

    preview/apply: {"sub": "override", "schedule", "user", "start", "end" (ISO 8601, UTC),
                    "asked_start" (the past start asked, clipped to now) or null, "reason",
                    "hours", "losers": [{"user", "hours", "spans": [{"start", "end"}]}],
                    "gap_hours", "dst_switches": [{"time_zone", "at", "change_h"}], "overlaps": [{"override",
                    "user", "start", "end"}] (stored overrides it wins over there), "refusal" or null,
                    "applied", "override" (its id once applied) or null, "undo" (the command) or null}
    undo:          {"sub": "undo", "override", "done", "text"}
    error:         {"kind": "usage" | "refused" | "unseen", "message", "exit_code"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from escalation.oncall.override_flow import Preview

KINDS = {1: "refused", 3: "unseen", 64: "usage"}


def preview_data(p: Preview, override_id: int | None = None) -> dict[str, Any]:
    """`p` as data; `override_id`: the stored override once applied."""
    from escalation.oncall.override_flow import dst_switches  # loaded by the override path already

    ask = p.ask
    losers = [
        {
            "user": user,
            "hours": round(sum((e - s).total_seconds() for s, e in spans) / 3600, 2),
            "spans": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in spans],
        }
        for user, spans in sorted(p.losers.items())
    ]
    switches = (
        [
            {"time_zone": p.time_zone, "at": at.isoformat(), "change_h": change.total_seconds() / 3600}
            for at, change in dst_switches(ZoneInfo(p.time_zone), ask.start, ask.end)
        ]
        if not p.refusal
        else []
    )
    return {
        "sub": "override",
        "schedule": ask.schedule,
        "user": ask.user,
        "start": ask.start.isoformat(),
        "end": ask.end.isoformat(),
        "asked_start": p.asked_start.isoformat() if p.asked_start else None,
        "reason": ask.reason,
        "hours": round(p.hours, 2),
        "losers": losers,
        "gap_hours": round(p.gap_hours, 2),
        "dst_switches": switches,
        "overlaps": [
            {
                "override": o.id,
                "user": o.user,
                "start": max(o.start, ask.start).isoformat(),
                "end": min(o.end, ask.end).isoformat(),
            }
            for o in p.overlapped
        ],
        "refusal": p.refusal,
        "applied": override_id is not None,
        "override": override_id,
        "undo": f"alp oncall undo {override_id}" if override_id is not None else None,
    }


def error_data(message: str, exit_code: int) -> dict[str, Any]:
    return {"kind": KINDS.get(exit_code, "error"), "message": message, "exit_code": exit_code}
