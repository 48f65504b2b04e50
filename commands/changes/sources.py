"""Where `alp changes` finds what changed in Kubernetes' own history.

- Rollouts: each Deployment's ReplicaSets (`deployment.kubernetes.io/revision`) and each
  StatefulSet's ControllerRevisions, consecutive pod templates compared
  (`commands.changes.pod_templates`). Kubernetes keeps only `revisionHistoryLimit` (10) of them.
- ConfigMaps: `metadata.managedFields`, which keeps, per field manager, the time of its latest
  write and the fields it owns (not the values it replaced).
- Scale: the deployment controller's `ScalingReplicaSet` events (an hour by default).

alp's own actions come from its audit log (`commands.changes.audit`). Values are plain text;
secret-looking env and configmap values are masked here, everything else by the renderers.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from commands.backends.kube import Kube, KubeError, KubeNotFound
from commands.changes.pod_templates import containers, diff_templates
from commands.masking.redact import redact_pair

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"  # earlier revisions of a re-used ReplicaSet
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

    def who(self) -> str:
        """`by` as it reads after a change's line: " (asked by U1, confirmed by U2)", " (by carol,
        in the terminal)", " (by kubectl-edit)"; "" when nobody is known."""
        if not self.by:
            return ""
        text = self.by.replace(" (terminal)", ", in the terminal")
        return f" ({text})" if text.startswith(("asked by ", "alp ")) else f" (by {text})"


@dataclass
class Gathered:
    """What the sources gave: changes, rollouts to flag, unreadable sources, and what was seen."""

    changes: list[Change] = field(default_factory=list)
    flagged: list[tuple[str, str, str]] = field(default_factory=list)  # (object, state, why)
    errors: dict[str, str] = field(default_factory=dict)  # source -> why it could not be read
    seen: dict[str, str] = field(default_factory=dict)  # source -> how far back it reaches
    oldest: dict[str, datetime] = field(default_factory=dict)  # source -> its oldest record seen
    objects: set[str] = field(default_factory=set)  # every workload and configmap read, e.g. deployment/x


# ---------------------------------------------------------------------- workloads
def _aware(t: Any) -> datetime | None:
    """A Kubernetes or state-store time as an aware UTC datetime (SQLite hands back naive ones)."""
    if t is None:
        return None
    when: datetime = datetime.fromisoformat(t.replace("Z", "+00:00")) if isinstance(t, str) else t
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def at_utc(t: Any) -> datetime:
    return _aware(t) or datetime.min.replace(tzinfo=UTC)


def _managers(obj: Any, timed: bool = True) -> list[tuple[str, str, datetime, dict[str, Any], str]]:
    """managedFields as (manager, operation, time, fieldsV1, subresource); with `timed`, only
    the entries that have a time (writes to a subresource may not)."""
    out = []
    for m in obj.metadata.managed_fields or []:
        when = _aware(m.time)
        if when is not None or not timed:
            out.append((m.manager or "?", m.operation or "", at_utc(m.time), m.fields_v1 or {}, m.subresource or ""))
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


def _template_writes(obj: Any) -> list[tuple[datetime, str]]:
    """(time, manager) of each field manager's latest write of the pod template, oldest first."""
    return sorted(
        (when, manager)
        for manager, _op, when, fields, sub in _managers(obj)
        if not sub and "f:template" in (fields.get("f:spec") or {})
    )


def _when_reused(
    owner: Any, history: list[tuple[int, datetime | None, dict[str, Any]]]
) -> list[tuple[int, datetime, dict[str, Any], bool]]:
    """Times for revisions that re-used an older ReplicaSet/ControllerRevision (a rollback to an
    earlier template: Kubernetes moves the old object to the new revision, its creation time
    says nothing of when). Such a revision happened when the pod template was written back: the
    first template write after the revision before it and not after the next (the latest, for the newest);
    where managedFields no longer show it (another write took its fields), at or before the next
    revision, and who is unknown. In: `None` for an unknown time; out: (revision, time, template,
    whether the time is exact)."""
    history = sorted(history, key=lambda h: h[0])
    writes = _template_writes(owner)
    out: list[tuple[int, datetime, dict[str, Any], bool]] = []
    for i in range(len(history) - 1, -1, -1):
        rev, at, template = history[i]
        exact = at is not None
        if at is None:
            prev = next((h[1] for h in reversed(history[:i]) if h[1] is not None), None)
            low = prev or datetime.min.replace(tzinfo=UTC)
            high = out[0][1] if out else datetime.max.replace(tzinfo=UTC)
            between = [w for w, _ in writes if low < w <= high]  # the previous revision's own write is at `low`
            exact = bool(between)
            at = (between[-1] if not out else between[0]) if between else (out[0][1] if out else low)
        out.insert(0, (rev, at, template, exact))
    return out


def _replicaset_revisions(r: Any) -> list[int]:
    """The revisions a ReplicaSet held: its current one and, if it was re-used, the earlier ones."""
    annotations = r.metadata.annotations or {}
    revs = {int(annotations.get(REVISION, "0") or 0)}
    revs |= {int(x) for x in annotations.get(REVISION_HISTORY, "").split(",") if x.strip().isdigit()}
    return sorted(revs)


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
    history: list[tuple[int, datetime, dict[str, Any], bool]],
    since: datetime,
    state: tuple[str, str],
    out: Gathered,
) -> None:
    """Changes between consecutive revisions of one workload, the newest flagged with its state;
    a revision whose time is not exact (see `_when_reused`) is said to be at or before it."""
    history.sort(key=lambda h: h[0])
    name, ns = owner.metadata.name, owner.metadata.namespace
    for i, (rev, at, template, exact) in enumerate(history):
        newest = i == len(history) - 1
        if at < since:
            continue
        if i == 0:
            images = ", ".join(c["image"] for c in containers(template).values())
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
                by=_template_writer(owner, at, i == 0) if exact else "",
                summary=f"{name} "
                + ", ".join(parts)
                + ("" if status == "complete" else f" [{status}]")
                + ("" if exact else " (a re-used revision: at or before this time)"),
                status=status,
            )
        )
    if state[0] != "complete":
        out.flagged.append((f"{kind}/{name}", state[0], state[1]))
    if history:
        key = f"rollouts in {ns}"
        oldest = min([h[1] for h in history] + ([out.oldest[key]] if key in out.oldest else []))
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
    out.objects |= {f"deployment/{d.metadata.name}" for d in deployments or []}
    out.objects |= {f"statefulset/{s.metadata.name}" for s in statefulsets or []}
    if deployments is not None and replicasets is not None:
        for d in deployments:
            owned = [r for r in replicasets if any(o.uid == d.metadata.uid for o in r.metadata.owner_references or [])]
            history: list[tuple[int, datetime | None, dict[str, Any]]] = []
            for r in owned:
                if r.metadata.creation_timestamp is None:
                    continue
                revs = _replicaset_revisions(r)  # the first made it; the later ones re-used it
                history += [
                    (n, _aware(r.metadata.creation_timestamp) if n == revs[0] else None, san(r.spec.template))
                    for n in revs
                ]
            _rollouts("deployment", d, _when_reused(d, history), since, deployment_state(d), out)
            newest = max(owned, key=lambda r: int((r.metadata.annotations or {}).get(REVISION, "0")), default=None)
            if newest is not None:
                _scale_changes(d, newest.metadata.name, since, out, scaled.get(d.metadata.name, []))
    if statefulsets is not None and revisions is not None:
        for s in statefulsets:
            owned = [r for r in revisions if any(o.uid == s.metadata.uid for o in r.metadata.owner_references or [])]
            # a ControllerRevision is written only when made and when re-used (a rollback moves it to
            # the new revision number): its latest write is when its revision began
            sts_history = [
                (
                    int(r.revision),
                    max([at_utc(r.metadata.creation_timestamp)] + [w for _m, _o, w, _f, _s in _managers(r)]),
                    ((r.data or {}).get("spec") or {}).get("template") or {},
                    True,
                )
                for r in owned
                if r.metadata.creation_timestamp is not None
            ]
            _rollouts("statefulset", s, sts_history, since, statefulset_state(s), out)


_PLAIN_VALUE = re.compile(r"[\w./:@+-]*")


def pairs(values: dict[str, str | None]) -> str:
    """`k=v, k2=v2` of a configmap's keys: a value (or key) that could read as more pairs or rows
    (`a, k3=x`, a line break, quotes) is shown JSON-quoted, so each pair shown is one key."""

    def shown(text: str | None) -> str:
        text = text or ""
        return text if _PLAIN_VALUE.fullmatch(text) else json.dumps(text, ensure_ascii=False)

    return ", ".join(f"{shown(k)}={shown(v)}" for k, v in values.items())


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
    out.objects.add(f"configmap/{name}")
    data = cm.data or {}
    for manager, _operation, when, fields, sub in _managers(cm):
        keys = [k.removeprefix("f:") for k in (fields.get("f:data") or {}) if k.startswith("f:")]
        if when < since or sub or not keys:
            continue
        values = {k: redact_pair(k, v, broad=True) if (v := data.get(k)) else v for k in keys}
        out.changes.append(
            Change(
                kind="configmap",
                object=f"configmap/{name}",
                namespace=namespace,
                at=when,
                after=values,
                by=manager,
                summary=f"{name} written: {pairs(values)} (values now)",
            )
        )
    out.seen["configmaps"] = "each field manager's latest write only; earlier values are not kept by Kubernetes"
