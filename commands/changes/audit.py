"""alp's own actions as changes, from its audit log (the one reader of the state store for
`alp changes`), and how they merge with what Kubernetes shows of the same change."""

from __future__ import annotations

import ast
import json
import re
from datetime import datetime
from typing import Any

from commands.backends.kube import FIELD_MANAGER
from commands.changes.sources import NEAR, Change, at_utc
from commands.registry import AuditReader

_OBJECT_PARAM = {
    "set-config": ("configmap", "configmap"),
    "scale": ("deployment", "deployment"),
    "restart": ("deployment", "deployment"),
    "rollback": ("deployment", "deployment"),
    "add-partitions": ("topic", "topic"),
    "reset-offsets": ("group", "group"),
    "delete-pod": ("pod", "pod"),
    "reindex": ("table", "table"),
    "oncall-override": ("schedule", "schedule"),
    "oncall-override-undo": ("schedule", "schedule"),
}
KIND_OF_ACTION = {"set-config": "configmap", "scale": "scale", "add-partitions": "partitions"}
ROLLOUT_ACTIONS = ("restart", "rollback", "set-resources")
COUNTED = {"scale": "replicas", "add-partitions": "partitions"}
_COUNT_PAIR = re.compile(r"(\d+) -> (\d+)")
_PREVIEW_PAIR = re.compile(r"([\w.-]+): ('(?:[^'\\]|\\.)*'|None) -> ('(?:[^'\\]|\\.)*'|None)")


def action_object(action: str, params: dict[str, Any]) -> str:
    """The object an alp action changed, named like the Kubernetes changes (`deployment/x`)."""
    if action in _OBJECT_PARAM:
        kind, key = _OBJECT_PARAM[action]
        return f"{kind}/{params.get(key, '?')}"
    if action == "set-resources":
        kind = "statefulset" if params.get("statefulset") else "deployment"
        return f"{kind}/{params.get(kind, '?')}"
    return action


def _values(before: Any, after: Any) -> str:
    if isinstance(after, dict) and after and (before is None or isinstance(before, dict)):
        b = before or {}
        return ", ".join(f"{k} {b[k]} -> {v}" if k in b else f"{k}={v}" for k, v in after.items())
    return ""


def _key(row: dict[str, Any]) -> str:
    return f"{row['action']} {json.dumps(row['params'], sort_keys=True, default=str)}"


def _asked_in_slack(req: dict[str, Any], summary: str) -> tuple[str, Any, Any, str]:
    """(by, before, after, phrase) from a stored request: who asked, confirmed and approved (a
    request without a channel was made by `alp do` in the terminal)."""
    by = f"{req['requester']}{TERMINAL}" if req.get("channel") == "" else f"asked by {req['requester']}"
    if req.get("confirmed_by") and req["confirmed_by"] != req["requester"]:
        by += f", confirmed by {req['confirmed_by']}"
    if req.get("approver"):
        by += f", approved by {req['approver']}"
    before = (req.get("preview") or {}).get("before")
    after = (req.get("outcome") or {}).get("after") or (req.get("preview") or {}).get("after")
    return by, before, after, _values(before, after) or summary


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


TERMINAL = " (terminal)"


def made_by(row: dict[str, Any]) -> str:
    """Who made an audited change with no Slack request behind it, and where: `carol (terminal)`
    for `alp do` and `alp oncall` (their actor is the terminal's user), the Slack user id for a
    change made in Slack without a request (an override: `params.via` "slack"). Said once: rows
    of the last release stored `carol (terminal)` as the actor."""
    actor = str(row["actor"])
    if (row.get("params") or {}).get("via") == "slack" or actor.endswith(TERMINAL):
        return actor
    return actor + TERMINAL


def _run_in_terminal(row: dict[str, Any], preview: str, summary: str) -> tuple[str, Any, Any, str]:
    """(by, before, after, phrase) of an `alp do … --yes` or a change made without a request:
    values from its preview's `key: 'old' -> 'new'` lines, or from its outcome's `2 -> 4 replicas`."""
    pairs = _PREVIEW_PAIR.findall(preview)
    before: Any = {k: _literal(o) for k, o, _ in pairs} or None
    after: Any = {k: _literal(n) for k, _, n in pairs} or row["params"]
    counted = _COUNT_PAIR.search(summary) if row["action"] in COUNTED else None
    if counted:
        what = COUNTED[row["action"]]
        before, after = {what: int(counted[1])}, {what: int(counted[2])}
    phrase = _values(before, after) if pairs or counted else summary
    return made_by(row), before, after, phrase


def audit_changes(rows: list[dict[str, Any]], requests: dict[int, dict[str, Any]], since: datetime) -> list[Change]:
    """alp's own actions that ran (`outcome` records) since `since`, oldest first.

    `rows` are audit records (at, actor, event, action, params, result); `requests` the Slack
    requests they name (`request #N`), giving who asked, who confirmed and approved, and the
    before/after values. An outcome with no request was run by an older terminal `alp do`."""
    rows = sorted(rows, key=lambda r: (at_utc(r["at"]), r.get("id", 0)))
    asked: dict[str, list[dict[str, Any]]] = {}
    previews: dict[str, dict[str, Any]] = {}
    out = []
    for row in rows:
        key = _key(row)
        if row["event"] == "requested":
            m = re.search(r"#(\d+)", row["result"] or "")
            req = requests.get(int(m[1])) if m else None
            if req is not None:
                asked.setdefault(key, []).append(req)
            continue
        if row["event"] == "dry-run":
            previews[f"{row['actor']} {key}"] = row
            continue
        if row["event"] != "outcome" or at_utc(row["at"]) < since:
            continue
        status, _, summary = (row["result"] or "").partition(": ")
        pending = [r for r in asked.get(key, []) if r.get("status") in ("done", "failed")]
        params = row["params"] or {}
        if pending:
            asked[key].remove(pending[0])
            by, before, after, phrase = _asked_in_slack(pending[0], summary)
        else:
            preview = previews.get(f"{row['actor']} {key}")
            by, before, after, phrase = _run_in_terminal(row, preview["result"] if preview else "", summary)
        obj = action_object(row["action"], params)
        out.append(
            Change(
                kind=KIND_OF_ACTION.get(row["action"], "remediation"),
                object=obj,
                at=at_utc(row["at"]),
                before=before,
                after=after,
                by=by,
                summary=f"alp {row['action']} {obj.split('/', 1)[-1]}: {phrase}"
                + ("" if status == "done" else f" [{status}]"),
                status=status,
                action=row["action"],
            )
        )
    return out


AuditRead = tuple[list[dict[str, Any]], dict[int, Any], str]
"""(audit records, {request id: stored request}, how far back the records read go)."""


async def read_audit(reader: AuditReader | None, state_url: str, since: datetime) -> AuditRead:
    """Audit records from `since` (and an hour before, so a request asked earlier and run inside
    the window is matched) and the requests they name, through `reader` (the state store's,
    `escalation.state.audit.changes_since`, handed in by the bot and the terminal).
    Raises LookupError when no reader was handed in (a finding says so)."""
    if reader is None:
        raise LookupError("the state store's reader is not wired in this process")
    result: AuditRead = await reader(state_url, since)
    return result


def near(a: Change, b: Change) -> bool:
    return a.object == b.object and abs(a.at - b.at) <= NEAR


def recency(c: Change) -> tuple[datetime, int]:
    """Sort key, newest last: time, then revision (two revisions can share a second)."""
    revision = c.after.get("revision", 0) if isinstance(c.after, dict) else 0
    return c.at, int(revision)


def merge_alp(k8s: list[Change], alp: list[Change]) -> list[Change]:
    """One line per change: alp's configmap writes replace the managedFields entry of manager
    `alp`, its scale changes the controller's scaling event; a restart, rollback or
    set-resources by alp names who asked on its rollout's line."""
    out, pending = list(alp), list(alp)
    for c in sorted(k8s, key=recency, reverse=True):  # the latest rollout is the one alp caused
        if c.kind == "configmap" and c.by == FIELD_MANAGER and any(near(c, a) for a in alp):
            continue
        if c.kind == "scale" and any(a.kind == "scale" and near(c, a) for a in alp):
            continue
        if c.kind == "rollout":
            own = next((a for a in pending if a.action in ROLLOUT_ACTIONS and near(c, a)), None)
            if own is not None:
                pending.remove(own)
                out.remove(own)
                c = c.model_copy(update={"by": f"alp {own.action}, {own.by}", "action": own.action})
        out.append(c)
    return out
