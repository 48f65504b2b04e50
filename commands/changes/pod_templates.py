"""Two pod templates compared the way an engineer reads a rollout: images, env vars (secret-looking
values masked), requests and limits, a restart, and whether anything else changed.

Templates are in the API's JSON shape (ReplicaSet `spec.template`, ControllerRevision `data`)."""

from __future__ import annotations

import json
from typing import Any

from commands.backends.kube import RESTARTED_AT
from commands.masking.redact import redact_pair


def _env_value(name: str, env: dict[str, Any]) -> str:
    if "valueFrom" in env:
        ref = env["valueFrom"]
        for kind in ("secretKeyRef", "configMapKeyRef"):
            if kind in ref:
                return f"from {kind.removesuffix('KeyRef')} {ref[kind].get('name')}/{ref[kind].get('key')}"
        return "from " + ",".join(sorted(ref))
    value = str(env.get("value", ""))
    return redact_pair(name, value, broad=True)


def containers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
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
    oc, nc = containers(old), containers(new)
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
