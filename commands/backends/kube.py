"""Kubernetes through the official client: the reads the checks make and the writes the
remediations make, each bounded by a timeout and each refusal turned into a clear error.

The client is blocking, so calls run in a worker thread. It is imported on first use (about a
third of a CPU second): a terminal `alp check redis` never loads it. Every write takes `dry_run`, which
asks the API server for a server-side dry run (`dryRun=All`): validated, admitted, not saved.
The bot's RBAC role (deploy/rbac.yaml) grants exactly what this module calls.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import urllib3

from commands.backends.kube_client import forget_credentials, shared_client
from commands.backends.kube_errors import KubeError, KubeForbidden, KubeNotFound, KubeUnavailable

if TYPE_CHECKING:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

__all__ = ["Kube", "KubeError", "KubeForbidden", "KubeNotFound", "KubeUnavailable", "preload"]

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
FIELD_MANAGER = "alp"  # how alp's writes appear in managedFields (`alp changes` tells them apart)
PARTIAL_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"


def preload() -> None:
    """Import the API modules now (about a second of CPU) rather than inside the first check."""
    from kubernetes import client

    for api in (client.CoreV1Api, client.AppsV1Api, client.NetworkingV1Api, client.CustomObjectsApi):
        api.__name__  # noqa: B018  (attribute access triggers the lazy import)


def load_configuration() -> client.Configuration:
    """`KUBECONFIG` (or ~/.kube/config) when present, else the pod's in-cluster config."""
    from kubernetes import client, config

    cfg = client.Configuration()
    path = os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    try:
        if os.path.exists(path.split(os.pathsep)[0]):
            config.load_kube_config(config_file=path.split(os.pathsep)[0], client_configuration=cfg)
        else:
            config.load_incluster_config(client_configuration=cfg)
    except config.ConfigException as err:
        raise KubeUnavailable(
            "load configuration", str(err), f"no Kubernetes configuration (set KUBECONFIG, or run alp in a pod): {err}"
        ) from None
    # No urllib3 retries: a refused connection is "unreachable" at once, and a hung API server costs one
    # timeout, not three (alp's own time limit bounds every call; the next check asks again).
    cfg.retries = 0
    return cfg


class Kube:
    """The Kubernetes operations alp uses, on the process's shared API client (`shared_client`), or
    on a client of its own for an explicit `configuration`."""

    def __init__(self, timeout_s: float, configuration: client.Configuration | None = None) -> None:
        from kubernetes import client

        self.timeout_s = timeout_s
        self._own = configuration is not None
        self.api = client.ApiClient(configuration) if configuration is not None else shared_client(load_configuration)

    # The client imports each API group's (large) module on first use: only pay for what is used.
    @cached_property
    def core(self) -> client.CoreV1Api:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        from kubernetes import client

        return client.AppsV1Api(self.api)

    @cached_property
    def net(self) -> client.NetworkingV1Api:
        from kubernetes import client

        return client.NetworkingV1Api(self.api)

    @cached_property
    def custom(self) -> client.CustomObjectsApi:
        from kubernetes import client

        return client.CustomObjectsApi(self.api)

    def close(self) -> None:
        """Close a client of its own; the shared one stays open for the process."""
        if self._own:
            self.api.close()

    async def _call(
        self,
        verb: str,
        resource: str,
        namespace: str | None,
        name: str | None,
        fn: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        from kubernetes.client.exceptions import ApiException

        kwargs.setdefault("_request_timeout", self.timeout_s)
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), self.timeout_s + 1)
        except ApiException as err:
            what = f"{resource}/{name}" if name else resource
            if err.status == 401 and not self._own:
                forget_credentials()
            if err.status == 403:
                raise KubeForbidden(verb, resource, namespace, name) from None
            if err.status == 404:
                where = f" in {namespace}" if namespace else ""
                raise KubeNotFound(f"{verb} {what}", "not found", f"{what} not found{where}") from None
            raise KubeError(f"{verb} {resource}", f"HTTP {err.status} {err.reason}: {_message(err)}") from None
        except urllib3.exceptions.NewConnectionError as err:  # refused (urllib3 files it under timeouts)
            why = f"{type(err).__name__}: {err}"
            raise KubeUnavailable(f"{verb} {resource}", why, f"Kubernetes API unreachable: {why}") from None
        except (TimeoutError, urllib3.exceptions.TimeoutError):  # ours, or the client's connect/read timeout
            why = f"no answer within {self.timeout_s:g}s"
            raise KubeUnavailable(f"{verb} {resource}", why, f"Kubernetes API: {why}") from None
        except (urllib3.exceptions.HTTPError, OSError) as err:  # refused, reset, TLS, DNS
            reason = getattr(err, "reason", None)
            if isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
                reason, urllib3.exceptions.NewConnectionError
            ):  # retries that timed out (a refused connection is a NewConnectionError, filed under timeouts)
                why = f"no answer within {self.timeout_s:g}s"
                raise KubeUnavailable(f"{verb} {resource}", why, f"Kubernetes API: {why}") from None
            why = f"{type(err).__name__}: {err}"
            raise KubeUnavailable(f"{verb} {resource}", why, f"Kubernetes API unreachable: {why}") from None

    @staticmethod
    def _dry(dry_run: bool) -> dict[str, Any]:
        return {"dry_run": "All"} if dry_run else {}

    @classmethod
    def _patch(cls, dry_run: bool) -> dict[str, Any]:
        """A patch's options: dry run or not, always as field manager `alp`."""
        return {"field_manager": FIELD_MANAGER, **cls._dry(dry_run)}

    # ------------------------------------------------------------------ reads
    async def list_pods(self, namespace: str | None, selector: str | None = None) -> list[Any]:
        """Pods of one namespace, or of all namespaces when `namespace` is None."""
        kw: dict[str, Any] = {"label_selector": selector} if selector else {}
        if namespace is None:
            return await self._lean("pods", None, "V1PodList", self.core.list_pod_for_all_namespaces, **kw)
        return await self._lean("pods", namespace, "V1PodList", self.core.list_namespaced_pod, namespace, **kw)

    async def _lean(
        self, resource: str, namespace: str | None, model: str, fn: Callable[..., Any], *args: Any, **kw: Any
    ) -> list[Any]:
        """A list call decoded lean (`_lean_items`): the items as the client's `model` list's items."""

        def call(**kwargs: Any) -> list[Any]:
            resp = fn(*args, _preload_content=False, **kwargs)  # the raw response: urllib3's
            try:
                return _lean_items(resp.data, model)
            finally:
                resp.release_conn()

        return list(await self._call("list", resource, namespace, None, call, **kw))

    async def pod_log(
        self,
        namespace: str,
        pod: str,
        tail_lines: int,
        since_seconds: int | None = None,
        container: str | None = None,
        previous: bool = False,
        timestamps: bool = False,
    ) -> str:
        """`kubectl logs [--previous] [--timestamps]`: at most `tail_lines` lines of one container."""
        kw: dict[str, Any] = {"tail_lines": tail_lines}
        if since_seconds:
            kw["since_seconds"] = since_seconds
        if container:
            kw["container"] = container
        if previous:
            kw["previous"] = True
        if timestamps:
            kw["timestamps"] = True
        text = await self._call(
            "get", "pods/log", namespace, pod, self.core.read_namespaced_pod_log, pod, namespace, **kw
        )
        return str(text or "")

    async def get_deployment(self, namespace: str, name: str) -> Any:
        return await self._call(
            "get", "deployments", namespace, name, self.apps.read_namespaced_deployment, name, namespace
        )

    async def get_statefulset(self, namespace: str, name: str) -> Any:
        return await self._call(
            "get", "statefulsets", namespace, name, self.apps.read_namespaced_stateful_set, name, namespace
        )

    async def list_deployments(self, namespace: str) -> list[Any]:
        res = await self._call("list", "deployments", namespace, None, self.apps.list_namespaced_deployment, namespace)
        return list(res.items)

    async def list_statefulsets(self, namespace: str) -> list[Any]:
        res = await self._call(
            "list", "statefulsets", namespace, None, self.apps.list_namespaced_stateful_set, namespace
        )
        return list(res.items)

    async def list_replicasets(self, namespace: str) -> list[Any]:
        """A namespace's ReplicaSets: each Deployment keeps its last `revisionHistoryLimit` (10)."""
        res = await self._call("list", "replicasets", namespace, None, self.apps.list_namespaced_replica_set, namespace)
        return list(res.items)

    async def list_controller_revisions(self, namespace: str) -> list[Any]:
        """A namespace's ControllerRevisions: the pod-template history of its StatefulSets."""
        res = await self._call(
            "list", "controllerrevisions", namespace, None, self.apps.list_namespaced_controller_revision, namespace
        )
        return list(res.items)

    async def get_scale(self, namespace: str, name: str) -> Any:
        return await self._call(
            "get", "deployments/scale", namespace, name, self.apps.read_namespaced_deployment_scale, name, namespace
        )

    async def list_events(self, namespace: str) -> list[Any]:
        """Events, newest first."""
        items = await self._lean("events", namespace, "CoreV1EventList", self.core.list_namespaced_event, namespace)
        epoch = datetime.min.replace(tzinfo=UTC)

        def when(e: Any) -> datetime:
            return e.last_timestamp or e.event_time or e.metadata.creation_timestamp or epoch

        return sorted(items, key=when, reverse=True)

    async def list_endpoints(self, namespace: str) -> list[Any]:
        res = await self._call("list", "endpoints", namespace, None, self.core.list_namespaced_endpoints, namespace)
        return list(res.items)

    async def get_endpoints(self, namespace: str, name: str) -> Any:
        return await self._call(
            "get", "endpoints", namespace, name, self.core.read_namespaced_endpoints, name, namespace
        )

    async def list_network_policies(self, namespace: str) -> list[Any]:
        res = await self._call(
            "list", "networkpolicies", namespace, None, self.net.list_namespaced_network_policy, namespace
        )
        return list(res.items)

    async def list_nodes(self) -> list[Any]:
        res = await self._call("list", "nodes", None, None, self.core.list_node)
        return list(res.items)

    async def get_configmap(self, namespace: str, name: str) -> Any:
        return await self._call(
            "get", "configmaps", namespace, name, self.core.read_namespaced_config_map, name, namespace
        )

    async def secret_metadata(self, namespace: str, name: str) -> dict[str, Any]:
        """A Secret's metadata only (PartialObjectMetadata): its data never reaches the bot."""
        path = f"/api/v1/namespaces/{namespace}/secrets/{name}"

        def fetch(_request_timeout: float | None = None) -> Any:
            method, url, headers, body, post = self.api.param_serialize(
                "GET", path, header_params={"Accept": PARTIAL_METADATA}, auth_settings=["BearerToken"]
            )
            resp = self.api.call_api(
                method, url, header_params=headers, body=body, post_params=post, _request_timeout=_request_timeout
            )
            resp.read()
            if resp.status >= 400:
                from kubernetes.client.exceptions import ApiException

                raise ApiException(http_resp=resp)
            return json.loads(resp.data or b"{}")

        body = await self._call("get", "secrets", namespace, name, fetch)
        if body.get("kind") != "PartialObjectMetadata" or "data" in body:
            why = "the API server sent more than metadata for a secret; refusing to use it"
            raise KubeError("get secrets", why, why)
        return dict(body["metadata"])

    async def pod_metrics(self, namespace: str) -> list[dict[str, Any]]:
        """`kubectl top pods`: metrics.k8s.io; KubeNotFound when metrics-server is absent."""
        res = await self._call(
            "list",
            "pods.metrics.k8s.io",
            namespace,
            None,
            self.custom.list_namespaced_custom_object,
            "metrics.k8s.io",
            "v1beta1",
            namespace,
            "pods",
        )
        return list(res.get("items", []))

    # ------------------------------------------------------------------ writes
    async def restart_deployment(self, namespace: str, name: str, dry_run: bool = False) -> Any:
        """`kubectl rollout restart`: stamp the pod template so a new ReplicaSet rolls out."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        return await self._call(
            "patch",
            "deployments",
            namespace,
            name,
            self.apps.patch_namespaced_deployment,
            name,
            namespace,
            body,
            **self._patch(dry_run),
        )

    async def scale_deployment(self, namespace: str, name: str, replicas: int, dry_run: bool = False) -> Any:
        body = {"spec": {"replicas": replicas}}
        return await self._call(
            "patch",
            "deployments/scale",
            namespace,
            name,
            self.apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            body,
            **self._patch(dry_run),
        )

    async def patch_configmap(
        self, namespace: str, name: str, data: dict[str, str | None], dry_run: bool = False
    ) -> Any:
        """Merge-patch `data`; a None value removes the key."""
        return await self._call(
            "patch",
            "configmaps",
            namespace,
            name,
            self.core.patch_namespaced_config_map,
            name,
            namespace,
            {"data": data},
            **self._patch(dry_run),
        )

    async def patch_container(
        self, namespace: str, deployment: str, container: str, patch: dict[str, Any], dry_run: bool = False
    ) -> Any:
        """Strategic-merge one container of a deployment (env var, resources)."""
        body = {"spec": {"template": {"spec": {"containers": [{"name": container, **patch}]}}}}
        return await self._call(
            "patch",
            "deployments",
            namespace,
            deployment,
            self.apps.patch_namespaced_deployment,
            deployment,
            namespace,
            body,
            **self._patch(dry_run),
        )

    async def patch_statefulset_container(
        self, namespace: str, name: str, container: str, patch: dict[str, Any], dry_run: bool = False
    ) -> Any:
        body = {"spec": {"template": {"spec": {"containers": [{"name": container, **patch}]}}}}
        return await self._call(
            "patch",
            "statefulsets",
            namespace,
            name,
            self.apps.patch_namespaced_stateful_set,
            name,
            namespace,
            body,
            **self._patch(dry_run),
        )

    async def delete_secret(self, namespace: str, name: str, dry_run: bool = False) -> Any:
        return await self._call(
            "delete",
            "secrets",
            namespace,
            name,
            self.core.delete_namespaced_secret,
            name,
            namespace,
            **self._dry(dry_run),
        )

    async def delete_pod(self, namespace: str, name: str, dry_run: bool = False) -> Any:
        return await self._call(
            "delete", "pods", namespace, name, self.core.delete_namespaced_pod, name, namespace, **self._dry(dry_run)
        )


def _lean_items(body: bytes, model: str) -> list[Any]:
    """A list's JSON (`model`: the client's list model, e.g. V1PodList) as the client's models,
    decoded lean: each item's `managedFields` dropped (about 40 % of a pod's JSON; no reader of pods
    or events looks at them: `alp changes` reads those of deployments, ReplicaSets and configmaps,
    decoded the client's way), the rest validated in one pass of pydantic's core rather than the
    client's `from_dict` per object: a quarter of the CPU, in this thread, beside the event loop
    (`bench/kube_decode.py`)."""
    from kubernetes import client

    data = json.loads(body)
    for item in data.get("items") or []:
        (item.get("metadata") or {}).pop("managedFields", None)
    return list(getattr(client, model).model_validate(data).items)


def _message(err: ApiException) -> str:
    try:
        return str(json.loads(err.body or "{}").get("message", "")) or str(err.reason)
    except ValueError:
        return str(err.reason)
