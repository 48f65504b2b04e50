"""Where `alp changes` finds what changed: Kubernetes' own history, and alp's audit log.

- Rollouts: each Deployment's ReplicaSets (`deployment.kubernetes.io/revision`) and each
  StatefulSet's ControllerRevisions, consecutive pod templates compared (images, env vars,
  resources, restarts). Kubernetes keeps only `revisionHistoryLimit` (10) of them.
- ConfigMaps and scale: `metadata.managedFields`, which keeps, per field manager, the time of
  its latest write and the fields it owns (not the values it replaced).
- alp's own actions: the audit log (`audit_changes`, the one reader of the state store).

Values are plain text; secret-looking env values are masked here, everything else by the
renderers (`commands.redact`).
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from commands.backends.kube import FIELD_MANAGER, Kube, KubeError, KubeNotFound
from commands.redact import MASK, redact

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_SECRET_NAME = re.compile(r"(?i)(pass|secret|token|key|credential|auth|dsn|private|cert)")
NEAR = timedelta(seconds=90)  # a write and the rollout it caused are this close in time


class Change(BaseModel):
    """One change: the `--json` shape (kind, object, at, before, after, by) plus a one-line summary."""

    kind: str  # rollout | configmap | scale | partitions | remediation
    object: str  # e.g. deployment/user-service, configmap/auth-config, topic/user.attempts
    namespace: str = ""
    at: datetime
    before: Any = None
    after: Any = None
    by: str = ""  # field manager, Slack user ID(s), or terminal user; "" when Kubernetes does not say
    summary: str  # plain text, one line
    status: str = ""  # rollouts: complete | in progress | stuck; alp actions: done | failed
    action: str = ""  # the alp action that made it, if alp did


@dataclass
class Gathered:
    """What the sources gave: changes, rollouts to flag, unreadable sources, and what was seen."""

    changes: list[Change] = field(default_factory=list)
    flagged: list[tuple[str, str, str]] = field(default_factory=list)  # (object, state, why)
    errors: dict[str, str] = field(default_factory=dict)  # source -> why it could not be read
    seen: dict[str, str] = field(default_factory=dict)  # source -> how far back it reaches
    oldest: dict[str, datetime] = field(default_factory=dict)  # source -> its oldest record seen


# ---------------------------------------------------------------------- pod templates
def _env_value(name: str, env: dict[str, Any]) -> str:
    if "valueFrom" in env:
        ref = env["valueFrom"]
        for kind in ("secretKeyRef", "configMapKeyRef"):
            if kind in ref:
                return f"from {kind.removesuffix('KeyRef')} {ref[kind].get('name')}/{ref[kind].get('key')}"
        return "from " + ",".join(sorted(ref))
    value = str(env.get("value", ""))
    return MASK if value and _SECRET_NAME.search(name) else redact(value)


def _containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for c in (template.get("spec") or {}).get("containers") or []:
        out[c["name"]] = {
            "image": c.get("image", ""),
            "env": {e["name"]: _env_value(e["name"], e) for e in c.get("env") or []},
            "env_raw": {e["name"]: json.dumps(e, sort_keys=True) for e in c.get("env") or []},
            "resources": {
                f"{kind}.{res}": str(v)
                for kind in ("requests", "limits")
                for res, v in ((c.get("resources") or {}).get(kind) or {}).items()
            },
        }
    return out


def _image(before: str, after: str) -> str:
    """`registry/app:1.4.2 -> 1.5.0` when only the tag moved, both in full otherwise."""
    b_repo, _, b_tag = before.rpartition(":")
    a_repo, _, a_tag = after.rpartition(":")
    if b_repo and b_repo == a_repo and "/" not in b_tag + a_tag:
        return f"image {b_repo.rsplit('/', 1)[-1]}:{b_tag} -> {a_tag}"
    return f"image {before} -> {after}"


def _rest(template: dict[str, Any]) -> str:
    """The template without what is compared field by field (and the per-ReplicaSet hash label)."""
    t = json.loads(json.dumps(template))
    meta = t.get("metadata") or {}
    (meta.get("labels") or {}).pop("pod-template-hash", None)
    (meta.get("annotations") or {}).pop(RESTARTED_AT, None)
    for key in ("labels", "annotations"):
        if not meta.get(key):
            meta.pop(key, None)
    for c in (t.get("spec") or {}).get("containers") or []:
        for key in ("image", "env", "resources"):
            c.pop(key, None)
    return json.dumps(t, sort_keys=True)


def diff_templates(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Compare two pod templates (API JSON shape): (before, after, one phrase per difference)."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    parts: list[str] = []
    oc, nc = _containers(old), _containers(new)
    single = len(set(oc) | set(nc)) == 1
    for name in sorted(set(oc) | set(nc)):
        prefix = "" if single else f"{name}: "
        if name not in oc or name not in nc:
            parts.append(f"container {name} {'added' if name in nc else 'removed'}")
            before[name], after[name] = oc.get(name), nc.get(name)
            continue
        o, n = oc[name], nc[name]
        b: dict[str, Any] = {}
        a: dict[str, Any] = {}
        if o["image"] != n["image"]:
            b["image"], a["image"] = o["image"], n["image"]
            parts.append(prefix + _image(o["image"], n["image"]))
        for group, label in (("env", "env"), ("resources", "")):
            for key in sorted(set(o[group]) | set(n[group])):
                ov, nv = o[group].get(key), n[group].get(key)
                if ov == nv and (group != "env" or o["env_raw"].get(key) == n["env_raw"].get(key)):
                    continue
                b.setdefault(group, {})[key], a.setdefault(group, {})[key] = ov, nv
                what = f"{label} {key}".strip()
                if ov is None:
                    parts.append(f"{prefix}{what}={nv} added")
                elif nv is None:
                    parts.append(f"{prefix}{what} removed (was {ov})")
                elif ov == nv:
                    parts.append(f"{prefix}{what} changed (value masked)")
                else:
                    parts.append(f"{prefix}{what} {ov} -> {nv}")
        if b or a:
            before[name], after[name] = b, a
    o_restart = ((old.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)
    n_restart = ((new.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)
    if o_restart != n_restart and n_restart:
        parts.append("restarted")
        after["restartedAt"] = n_restart
    if _rest(old) != _rest(new):
        parts.append("other pod template fields changed")
    return before, after, parts or ["pod template unchanged (rollback or re-apply)"]


# ---------------------------------------------------------------------- workloads
def _aware(t: Any) -> datetime | None:
    """A Kubernetes or state-store time as an aware UTC datetime (SQLite hands back naive ones)."""
    if t is None:
        return None
    when: datetime = datetime.fromisoformat(t.replace("Z", "+00:00")) if isinstance(t, str) else t
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _at(t: Any) -> datetime:
    return _aware(t) or datetime.min.replace(tzinfo=UTC)


def _managers(obj: Any, timed: bool = True) -> list[tuple[str, str, datetime, dict[str, Any], str]]:
    """managedFields as (manager, operation, time, fieldsV1, subresource); with `timed`, only
    the entries that have a time (writes to a subresource may not)."""
    out = []
    for m in obj.metadata.managed_fields or []:
        when = _aware(m.time)
        if when is not None or not timed:
            out.append((m.manager or "?", m.operation or "", _at(m.time), m.fields_v1 or {}, m.subresource or ""))
    return out


def _template_writer(obj: Any, at: datetime, first: bool) -> str:
    """The field manager whose latest write of the pod template is nearest `at` (within NEAR), if
    any. At equal times the creator (who owns `spec.selector`) made the first revision, another
    manager the later ones."""
    writes = []
    for manager, _op, when, fields, sub in _managers(obj):
        spec = fields.get("f:spec") or {}
        if not sub and "f:template" in spec and abs(when - at) <= NEAR:
            writes.append((abs(when - at), ("f:selector" in spec) != first, manager))
    return min(writes)[2] if writes else ""


def deployment_state(d: Any) -> tuple[str, str]:
    """(complete | in progress | stuck | paused, why) from a Deployment's status."""
    st, spec = d.status, d.spec
    want = spec.replicas if spec.replicas is not None else 1
    progressing = next((c for c in st.conditions or [] if c.type == "Progressing"), None)
    if progressing is not None and progressing.status == "False":
        return "stuck", f"{progressing.reason}: {progressing.message}"
    if spec.paused:
        return "paused", "the rollout is paused"
    if (st.observed_generation or 0) < (d.metadata.generation or 0):
        return "in progress", "the controller has not seen the latest spec yet"
    updated, total, unavailable = st.updated_replicas or 0, st.replicas or 0, st.unavailable_replicas or 0
    if updated < want or total > updated or unavailable:
        return "in progress", f"{updated} of {want} replicas updated, {unavailable} unavailable"
    return "complete", ""


def statefulset_state(s: Any) -> tuple[str, str]:
    st = s.status
    want = s.spec.replicas if s.spec.replicas is not None else 1
    if st.update_revision and st.current_revision != st.update_revision:
        return "in progress", f"{st.updated_replicas or 0} of {want} replicas on revision {st.update_revision}"
    if (st.ready_replicas or 0) < want:
        return "in progress", f"{st.ready_replicas or 0} of {want} replicas ready"
    return "complete", ""


def _rollouts(
    kind: str,
    owner: Any,
    history: list[tuple[int, datetime, dict[str, Any]]],
    since: datetime,
    state: tuple[str, str],
    out: Gathered,
) -> None:
    """Changes between consecutive revisions of one workload, the newest flagged with its state."""
    history.sort(key=lambda h: h[0])
    name, ns = owner.metadata.name, owner.metadata.namespace
    for i, (rev, at, template) in enumerate(history):
        newest = i == len(history) - 1
        if at < since:
            continue
        if i == 0:
            images = ", ".join(c["image"] for c in _containers(template).values())
            before, after, parts = None, {"revision": rev}, [f"revision {rev} ({images})"]
        else:
            before, after, parts = diff_templates(history[i - 1][2], template)
            before = {"revision": history[i - 1][0], **before}
            after = {"revision": rev, **after}
        status = state[0] if newest else "complete"
        out.changes.append(
            Change(
                kind="rollout",
                object=f"{kind}/{name}",
                namespace=ns,
                at=at,
                before=before,
                after=after,
                by=_template_writer(owner, at, i == 0),
                summary=f"{name} " + ", ".join(parts) + ("" if status == "complete" else f" [{status}]"),
                status=status,
            )
        )
    if state[0] != "complete":
        out.flagged.append((f"{kind}/{name}", state[0], state[1]))
    if history:
        key = f"rollouts in {ns}"
        oldest = min([at for _, at, _ in history] + ([out.oldest[key]] if key in out.oldest else []))
        out.oldest[key] = oldest
        out.seen[key] = (
            f"back to {oldest:%Y-%m-%d %H:%M}Z (the last revisions Kubernetes keeps, 10 per workload by default)"
        )


_SCALED = re.compile(r"Scaled (?:up|down) replica set (\S+) from (\d+) to (\d+)")


@dataclass(frozen=True)
class Scaled:
    """One `Scaled up replica set X from 2 to 4` event of the deployment controller."""

    at: datetime
    replicaset: str
    before: int
    after: int


def scaled_events(events: list[Any]) -> dict[str, list[Scaled]]:
    """The deployment controller's scaling events, by deployment (events last an hour by default)."""
    out: dict[str, list[Scaled]] = {}
    for e in events:
        m = _SCALED.search(e.message or "")
        when = _aware(e.last_timestamp or e.event_time)
        if e.reason == "ScalingReplicaSet" and e.involved_object.kind == "Deployment" and m and when:
            out.setdefault(e.involved_object.name, []).append(Scaled(when, m[1], int(m[2]), int(m[3])))
    return out


def _scale_changes(d: Any, newest: str, since: datetime, out: Gathered, scaled: list[Scaled]) -> None:
    """Scale changes of a deployment: its current ReplicaSet scaled while no other of its
    ReplicaSets was (that would be a rollout). Who: the field managers of its scale subresource
    (managedFields keep no time for those writes)."""
    writers = sorted({m for m, _op, _t, _f, sub in _managers(d, timed=False) if sub == "scale"})
    for e in scaled:
        if e.replicaset != newest or e.at < since:
            continue
        if any(o.replicaset != newest and abs(o.at - e.at) <= NEAR for o in scaled):
            continue
        out.changes.append(
            Change(
                kind="scale",
                object=f"deployment/{d.metadata.name}",
                namespace=d.metadata.namespace,
                at=e.at,
                before={"replicas": e.before},
                after={"replicas": e.after},
                by=" or ".join(writers),
                summary=f"{d.metadata.name} scaled {e.before} -> {e.after} replicas",
            )
        )


async def _events(kube: Kube, namespace: str, with_events: bool) -> list[Any]:
    return await kube.list_events(namespace) if with_events else []


async def workload_changes(
    kube: Kube, namespace: str, since: datetime, out: Gathered, with_events: bool = False
) -> None:
    """Rollouts and scale changes of one namespace's Deployments and StatefulSets (with the
    namespace's events, the replicas before a scale change)."""
    gathered: list[Any] = await asyncio.gather(
        kube.list_deployments(namespace),
        kube.list_replicasets(namespace),
        kube.list_statefulsets(namespace),
        kube.list_controller_revisions(namespace),
        _events(kube, namespace, with_events),
        return_exceptions=True,
    )
    results, events = gathered[:4], gathered[4]
    if isinstance(events, KubeError):
        out.seen[f"events in {namespace}"] = f"not read ({events}): replicas before a scale unknown"
        events = []
    elif isinstance(events, BaseException):
        raise events
    scaled = scaled_events(events)
    names = ("deployments", "replicasets", "statefulsets", "controllerrevisions")
    for name, res in zip(names, results, strict=True):
        if isinstance(res, BaseException):
            if not isinstance(res, KubeError):
                raise res
            out.errors[f"{name} in {namespace}"] = str(res)
    deployments, replicasets, statefulsets, revisions = (r if isinstance(r, list) else None for r in results)
    san: Callable[[Any], dict[str, Any]] = kube.api.sanitize_for_serialization
    if deployments is not None and replicasets is not None:
        for d in deployments:
            owned = [r for r in replicasets if any(o.uid == d.metadata.uid for o in r.metadata.owner_references or [])]
            history = [
                (
                    int((r.metadata.annotations or {}).get(REVISION, "0")),
                    _aware(r.metadata.creation_timestamp),
                    san(r.spec.template),
                )
                for r in owned
            ]
            _rollouts("deployment", d, [(n, t, tp) for n, t, tp in history if t], since, deployment_state(d), out)
            newest = max(owned, key=lambda r: int((r.metadata.annotations or {}).get(REVISION, "0")), default=None)
            if newest is not None:
                _scale_changes(d, newest.metadata.name, since, out, scaled.get(d.metadata.name, []))
    if statefulsets is not None and revisions is not None:
        for s in statefulsets:
            owned = [r for r in revisions if any(o.uid == s.metadata.uid for o in r.metadata.owner_references or [])]
            history = [
                (
                    int(r.revision),
                    _aware(r.metadata.creation_timestamp),
                    ((r.data or {}).get("spec") or {}).get("template") or {},
                )
                for r in owned
            ]
            _rollouts("statefulset", s, [(n, t, tp) for n, t, tp in history if t], since, statefulset_state(s), out)


async def configmap_changes(kube: Kube, namespace: str, name: str, since: datetime, out: Gathered) -> None:
    """Each field manager's latest write of a configmap's data, with the current values of its keys."""
    try:
        cm = await kube.get_configmap(namespace, name)
    except KubeNotFound:
        out.seen[f"configmap {name}"] = f"does not exist in {namespace}"
        return
    except KubeError as err:
        out.errors[f"configmap {name}"] = str(err)
        return
    data = cm.data or {}
    for manager, _operation, when, fields, sub in _managers(cm):
        keys = [k.removeprefix("f:") for k in (fields.get("f:data") or {}) if k.startswith("f:")]
        if when < since or sub or not keys:
            continue
        values = {k: MASK if _SECRET_NAME.search(k) and data.get(k) else data.get(k) for k in keys}
        out.changes.append(
            Change(
                kind="configmap",
                object=f"configmap/{name}",
                namespace=namespace,
                at=when,
                after=values,
                by=manager,
                summary=f"{name} written: {', '.join(f'{k}={v}' for k, v in values.items())} (values now)",
            )
        )
    out.seen["configmaps"] = "each field manager's latest write only; earlier values are not kept by Kubernetes"


# ---------------------------------------------------------------------- alp's audit log
_OBJECT_PARAM = {
    "set-config": ("configmap", "configmap"),
    "scale": ("deployment", "deployment"),
    "restart": ("deployment", "deployment"),
    "rollback": ("deployment", "deployment"),
    "add-partitions": ("topic", "topic"),
    "reset-offsets": ("group", "group"),
    "delete-pod": ("pod", "pod"),
    "reindex": ("table", "table"),
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


def audit_changes(rows: list[dict[str, Any]], requests: dict[int, dict[str, Any]], since: datetime) -> list[Change]:
    """alp's own actions that ran (`outcome` records) since `since`, oldest first.

    `rows` are audit records (at, actor, event, action, params, result); `requests` the Slack
    requests they name (`request #N`), giving who asked, who confirmed and approved, and the
    before/after values. An outcome with no Slack request was run from the terminal."""
    rows = sorted(rows, key=lambda r: (_at(r["at"]), r.get("id", 0)))
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
        if row["event"] != "outcome" or _at(row["at"]) < since:
            continue
        status, _, summary = (row["result"] or "").partition(": ")
        pending = [r for r in asked.get(key, []) if r.get("status") in ("done", "failed")]
        params = row["params"] or {}
        if pending:
            req = pending[0]
            asked[key].remove(req)
            by = f"asked by {req['requester']}"
            if req.get("confirmed_by") and req["confirmed_by"] != req["requester"]:
                by += f", confirmed by {req['confirmed_by']}"
            if req.get("approver"):
                by += f", approved by {req['approver']}"
            before = (req.get("preview") or {}).get("before")
            after = (req.get("outcome") or {}).get("after") or (req.get("preview") or {}).get("after")
            phrase = _values(before, after) or summary
        else:
            by = f"{row['actor']} (terminal)"
            preview = previews.get(f"{row['actor']} {key}")
            pairs = _PREVIEW_PAIR.findall(preview["result"]) if preview else []
            before = {k: ast.literal_eval(o) for k, o, _ in pairs} or None
            after = {k: ast.literal_eval(n) for k, _, n in pairs} or params
            counted = _COUNT_PAIR.search(summary) if row["action"] in COUNTED else None
            if counted:  # scale, add-partitions: `2 -> 4 replicas`
                before, after = {COUNTED[row["action"]]: int(counted[1])}, {COUNTED[row["action"]]: int(counted[2])}
            phrase = _values(before, after) if pairs or counted else summary
        obj = action_object(row["action"], params)
        out.append(
            Change(
                kind=KIND_OF_ACTION.get(row["action"], "remediation"),
                object=obj,
                at=_at(row["at"]),
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


def read_audit(state_url: str, since: datetime, limit: int = 2000) -> tuple[list[dict[str, Any]], dict[int, Any], str]:
    """The one reader of the state store for `alp changes`: audit records from `since` (and an
    hour before, so a request asked earlier and run inside the window is matched), the Slack
    requests they name, and how far back the records read go. Blocking: run it in a thread."""
    from escalation.store import ActionRequests, Store

    store = Store(state_url)
    try:
        rows = store.latest_audit(limit)
        floor = since - timedelta(hours=1)
        rows = [r for r in rows if _at(r["at"]) >= floor]
        requests: dict[int, Any] = {}
        reader = ActionRequests(store)
        for r in rows:
            m = re.search(r"#(\d+)", r["result"] or "") if r["event"] == "requested" else None
            if m:
                req = reader.get(int(m[1]))
                if req is not None:
                    requests[int(m[1])] = req
        reach = "the whole audit log" if len(rows) < limit else f"the latest {limit} audit records only"
        return rows, requests, reach
    finally:
        store.close()


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
