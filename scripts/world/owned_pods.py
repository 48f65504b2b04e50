"""The demo's pods as `kubectl apply` of a Deployment leaves them: the test bed's controller-manager
makes the Deployment's ReplicaSet and the ReplicaSet's pods (named `<deployment>-<hash>-<xxxxx>`,
owned by it); with no scheduler and no kubelet on the bed, this module does their part: binds
each pod to the fake node and sets the status a kubelet would report (`scripts/world/kube.py`
`set_status`). So `restart`, `scale` and `changes` act on a Deployment that owns its pods, as in
production (a rollout's new pods stay Pending: nothing runs them).

Idempotent: a Deployment whose template an action changed (a restart's annotation) gets the
demo's template back, and its controller returns to the ReplicaSet (and pods) it had."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scripts.world.kube import NODE, deployment, set_status

WAIT_S = 60  # for the controllers to make (or take away) the pods


def bring_up(
    api: client.ApiClient, namespace: str, name: str, port: int, states: list[dict[str, Any]], label: dict[str, str]
) -> list[str]:
    """Deployment `name` with one pod per entry of `states` (`set_status`'s keywords, and `pod_ip`),
    made by its controllers, bound to the fake node, labelled `label`; their names, oldest first."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    dep = apps.read_namespaced_deployment(name, namespace)
    dep.spec.template = deployment(name, port, namespace).spec.template
    dep.spec.replicas = len(states)
    apps.replace_namespaced_deployment(name, namespace, dep)
    pods = _wait_for_pods(core, apps, namespace, name, len(states))
    container = dep.spec.template.spec.containers[0]
    for pod, state in zip(pods, states, strict=True):
        if not pod.spec.node_name:  # the scheduler's part
            body = client.V1Binding(
                metadata=client.V1ObjectMeta(name=pod.metadata.name),
                target=client.V1ObjectReference(kind="Node", name=NODE),
            )
            core.create_namespaced_pod_binding(pod.metadata.name, namespace, body, _preload_content=False)
        core.patch_namespaced_pod(pod.metadata.name, namespace, {"metadata": {"labels": label}})
        set_status(api, namespace, pod.metadata.name, container.image, container=container.name, **state)
    return [p.metadata.name for p in pods]


def _wait_for_pods(core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str, name: str, count: int) -> list[Any]:
    """The deployment's `count` pods once its rollout settled (one ReplicaSet with replicas, no pod
    terminating: one stuck so, with no kubelet to confirm it, is deleted at once), oldest first."""
    deadline = time.monotonic() + WAIT_S
    while True:
        dep = apps.read_namespaced_deployment(name, namespace)
        sets = [
            rs
            for rs in apps.list_namespaced_replica_set(namespace).items
            if any(o.controller and o.uid == dep.metadata.uid for o in rs.metadata.owner_references or [])
        ]
        active = [rs for rs in sets if rs.spec.replicas]
        uids = {rs.metadata.uid for rs in active}
        pods, terminating = [], []
        for pod in core.list_namespaced_pod(namespace, label_selector=f"app={name}").items:
            owned = any(
                o.controller and o.uid in uids | {rs.metadata.uid for rs in sets}
                for o in pod.metadata.owner_references or []
            )
            if not owned:
                continue
            (terminating if pod.metadata.deletion_timestamp else pods).append(pod)
        for pod in terminating:
            _force_delete(core, namespace, pod.metadata.name)
        settled = (dep.status.observed_generation or 0) >= (dep.metadata.generation or 0)
        if settled and len(active) == 1 and not terminating and len(pods) == count:
            if all(any(o.uid in uids for o in p.metadata.owner_references or []) for p in pods):
                return sorted(pods, key=lambda p: (p.metadata.creation_timestamp, p.metadata.name))
        if time.monotonic() > deadline:
            raise RuntimeError(f"deployment/{name} in {namespace}: its {count} pod(s) not made in {WAIT_S}s")
        time.sleep(0.3)


def scale_owners_to_zero(api: client.ApiClient, pods: list[Any]) -> None:
    """The Deployments owning `pods` (through their ReplicaSets) scaled to 0, and their
    ReplicaSets seen at 0, so no controller makes the pods again once they are deleted."""
    apps = client.AppsV1Api(api)
    owners: set[tuple[str, str]] = set()
    for pod in pods:
        for ref in pod.metadata.owner_references or []:
            if ref.kind != "ReplicaSet":
                continue
            try:
                rs = apps.read_namespaced_replica_set(ref.name, pod.metadata.namespace)
            except ApiException as err:
                if err.status != 404:
                    raise
                continue
            owners |= {
                (pod.metadata.namespace, o.name) for o in rs.metadata.owner_references or [] if o.kind == "Deployment"
            }
    for namespace, name in owners:
        apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 0}})
    deadline = time.monotonic() + WAIT_S
    while owners and time.monotonic() < deadline:
        busy = [
            rs
            for ns in {n for n, _ in owners}
            for rs in apps.list_namespaced_replica_set(ns).items
            if rs.spec.replicas
            and any(o.kind == "Deployment" and (ns, o.name) in owners for o in rs.metadata.owner_references or [])
        ]
        if not busy:
            return
        time.sleep(0.3)


def _force_delete(core: client.CoreV1Api, namespace: str, name: str) -> None:
    try:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
    except ApiException as err:
        if err.status != 404:
            raise
