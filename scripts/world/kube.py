"""The runbook's world on the test bed's real API server, created idempotently.

Namespaces, the four service deployments, the configmaps the runbook patches, the JWT
signing-key secret, and the infrastructure pods (postgres-0, redis-0, kafka-0) as plain
Pods on a registered node whose kubelet is the test bed's kubelet stand-in
(scripts/world/standins.py), with the status a kubelet would report. The deployments have 0
replicas, so no Pending pods from the controller muddy the checks, except those the demo brings
up with pods they own (scripts/world/owned_pods.py). The one definition used by the tests
(tests/conftest.py) and by `scripts/testbed demo` (scripts/world/demo.py).
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

PLATFORM = "adaptive-learning-production"
SERVICES = {"auth-service": 3001, "user-service": 3002, "scheduler-service": 3003, "ml-service": 3005}
CONFIGMAPS = {
    "auth-config": {
        "fallback_enabled": "false",
        "cache_enabled": "false",
        "cache_ttl": "60",
        "oauth_endpoint": "https://auth0.com",
    },
    "scheduler-config": {"fallback_enabled": "false"},
    "ml-service-config": {"cache_predictions": "false", "prediction_timeout": "5s"},
    "user-service-config": {"lock_timeout": "10s"},
    "postgres-config": {"max_connections": "100", "shared_preload_libraries": "pg_stat_statements"},
}
ENV = {
    "scheduler-service": {"ALGORITHM_VERSION": "v1.1.0"},
    "ml-service": {"MODEL_VERSION": "v1.3.0", "MODEL_VARIANT": "large"},
}


def _ensure(create: Any, *args: Any) -> None:
    try:
        create(*args)
    except ApiException as err:
        if err.status != 409:
            raise


NODE = "alp-fake-node"


def register_node(api: client.ApiClient, kubelet_port: int) -> None:
    """A Node whose kubelet is the test bed's kubelet stand-in on loopback, with two GPUs (one free)."""
    core = client.CoreV1Api(api)
    _ensure(core.create_node, client.V1Node(metadata=client.V1ObjectMeta(name=NODE, labels={"alp": "fake"})))
    core.patch_node_status(
        NODE,
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
                "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "2"},
                "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "1"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "fake"}],
            }
        },
    )


def make_pod(
    api: client.ApiClient,
    namespace: str,
    name: str,
    app: str,
    *,
    ready: bool = True,
    phase: str = "Running",
    restarts: int = 0,
    waiting: str | None = None,
    oom: bool = False,
    memory_limit: str | None = "1Gi",
    pod_ip: str | None = None,
    labels: dict[str, str] | None = None,
    sidecars: dict[str, str] | None = None,
) -> None:
    """A pod on the fake node with the status a kubelet would report (set via the status subresource).
    `sidecars`: more containers beside "app" (name -> memory limit), e.g. {"istio-proxy": "256Mi"}."""
    core = client.CoreV1Api(api)
    limits = {"memory": memory_limit, "cpu": "1"} if memory_limit else None
    extra = [
        client.V1Container(
            name=n, image=f"{n}:1", resources=client.V1ResourceRequirements(limits={"memory": m, "cpu": "1"})
        )
        for n, m in (sidecars or {}).items()
    ]
    core.create_namespaced_pod(
        namespace,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": app, **(labels or {})}),
            spec=client.V1PodSpec(
                node_name=NODE,
                containers=[
                    client.V1Container(
                        name="app", image=f"{app}:1", resources=client.V1ResourceRequirements(limits=limits)
                    ),
                    *extra,
                ],
            ),
        ),
    )
    set_status(
        api,
        namespace,
        name,
        app,
        ready=ready,
        phase=phase,
        restarts=restarts,
        waiting=waiting,
        oom=oom,
        pod_ip=pod_ip,
        sidecars=list(sidecars or {}),
    )


def set_status(
    api: client.ApiClient,
    namespace: str,
    name: str,
    image: str,
    *,
    container: str = "app",
    ready: bool = True,
    phase: str = "Running",
    restarts: int = 0,
    waiting: str | None = None,
    oom: bool = False,
    pod_ip: str | None = None,
    sidecars: list[str] | None = None,
) -> None:
    """The status a kubelet would report for pod `name` (its `container`, then `sidecars`, running),
    set through the status subresource."""
    core = client.CoreV1Api(api)
    # A container that restarted did so a few minutes ago (its current start, its last termination's
    # end), as a kubelet reports it: the checks judge restarts over a window, not restartCount alone.
    recent = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 300))
    started = recent if restarts or oom else "2026-11-28T01:00:00Z"
    state: dict[str, Any] = {"running": {"startedAt": started}}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": f"back-off restarting failed container ({waiting})"}}
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": recent}} if oom else {}
    core.patch_namespaced_pod_status(
        name,
        namespace,
        {
            "status": {
                "phase": phase,
                **({"podIP": pod_ip, "podIPs": [{"ip": pod_ip}]} if pod_ip else {}),
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        **({} if ready else {"reason": "ContainersNotReady"}),
                    }
                ],
                "containerStatuses": [
                    {
                        "name": container,
                        "image": f"{image}:1" if ":" not in image else image,
                        "imageID": "",
                        "ready": ready,
                        "restartCount": restarts,
                        "state": state,
                        "lastState": last,
                    },
                    *(
                        {
                            "name": n,
                            "image": f"{n}:1",
                            "imageID": "",
                            "ready": True,
                            "restartCount": 0,
                            "state": {"running": {"startedAt": "2026-11-28T01:00:00Z"}},
                        }
                        for n in (sidecars or [])
                    ),
                ],
            }
        },
    )


def delete_namespace(api: client.ApiClient, namespace: str) -> None:
    """Force-delete the pods (no kubelet will confirm a graceful delete), then the namespace."""
    core = client.CoreV1Api(api)
    for pod in core.list_namespaced_pod(namespace).items:
        try:
            core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
        except ApiException as err:
            if err.status != 404:
                raise
    core.delete_namespace(namespace)


def deployment(name: str, port: int, namespace: str = PLATFORM, replicas: int = 0) -> client.V1Deployment:
    env = [client.V1EnvVar(name=k, value=v) for k, v in ENV.get(name, {}).items()]
    container = client.V1Container(
        name=name,
        image=f"registry.example/alp/{name}:1.0",
        ports=[client.V1ContainerPort(container_port=port)],
        env=env or None,
        resources=client.V1ResourceRequirements(
            limits={"cpu": "1", "memory": "1Gi"}, requests={"cpu": "100m", "memory": "256Mi"}
        ),
    )
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace, labels={"app": name}),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(containers=[container]),
            ),
        ),
    )


def create_world(api: client.ApiClient, replicas: dict[tuple[str, str], int] | None = None) -> None:
    """The world, its deployments at 0 replicas except those in `replicas` ((namespace, name) -> count:
    the demo's, which scripts/world/owned_pods.py brings up as their controllers would)."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    for ns in (PLATFORM, "infrastructure", "istio-system", "falco-system", "kong"):
        _ensure(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    for name, port in SERVICES.items():
        _ensure(apps.create_namespaced_deployment, PLATFORM, deployment(name, port))
        _ensure(
            core.create_namespaced_service,
            PLATFORM,
            client.V1Service(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1ServiceSpec(selector={"app": name}, ports=[client.V1ServicePort(port=port)]),
            ),
        )
    configmaps = [(PLATFORM, name, data) for name, data in CONFIGMAPS.items()]
    configmaps.append(("kong", "kong-config", {"rate_limit": "100", "rate_limit_window": "60", "blocked_ips": ""}))
    for namespace, name, data in configmaps:  # back to the runbook's values: earlier runs patched them
        cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)
        _ensure(core.create_namespaced_config_map, namespace, cm)
        core.replace_namespaced_config_map(name, namespace, cm)
    _ensure(
        core.create_namespaced_secret,
        PLATFORM,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"key": "super-secret-signing-key"}
        ),
    )
    for pod, app in (("postgres-0", "postgres"), ("redis-0", "redis"), ("kafka-0", "kafka")):
        try:
            existing = core.read_namespaced_pod(pod, "infrastructure")
            if (
                existing.spec.node_name == NODE
                and existing.status.phase == "Running"
                and not existing.metadata.deletion_timestamp
            ):
                continue
            core.delete_namespaced_pod(pod, "infrastructure", grace_period_seconds=0)
        except ApiException as err:
            if err.status != 404:
                raise
        make_pod(api, "infrastructure", pod, app)
    for name, port in (("postgres", 5432), ("redis", 6379), ("kafka", 9092)):
        _ensure(
            core.create_namespaced_service,
            "infrastructure",
            client.V1Service(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1ServiceSpec(selector={"app": name}, ports=[client.V1ServicePort(port=port)]),
            ),
        )
    for name, port in (("postgres", 5432), ("redis", 6379)):
        # Its own labels, so this empty StatefulSet never adopts (and deletes) the postgres-0 pod above.
        template = deployment(name, port, "infrastructure")
        template.spec.selector.match_labels = {"app": f"{name}-statefulset"}
        template.spec.template.metadata.labels = {"app": f"{name}-statefulset"}
        _ensure(
            apps.create_namespaced_stateful_set,
            "infrastructure",
            client.V1StatefulSet(
                metadata=client.V1ObjectMeta(name=name, labels={"app": name}),
                spec=client.V1StatefulSetSpec(
                    replicas=0, service_name=name, selector=template.spec.selector, template=template.spec.template
                ),
            ),
        )
    _ensure(apps.create_namespaced_deployment, "istio-system", deployment("istiod", 15010, "istio-system"))
    _ensure(apps.create_namespaced_deployment, "kong", deployment("kong-gateway", 8000, "kong"))
    for ns, name in [(PLATFORM, n) for n in SERVICES] + [("istio-system", "istiod"), ("kong", "kong-gateway")]:
        if (ns, name) not in (replicas or {}):
            apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": 0}})


APISERVICE = "v1beta1.metrics.k8s.io"
METRICS_SERVICE = "alp-testbed-metrics"


def metrics_served(api: client.ApiClient) -> bool:
    """Does the API server answer `kubectl top pods` (metrics.k8s.io) right now?"""
    try:
        client.CustomObjectsApi(api).list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
        return True
    except ApiException:
        return False


def register_metrics_api(api: client.ApiClient, port: int, timeout_s: float = 30) -> None:
    """metrics.k8s.io served by the metrics stand-in on loopback `port`, through an APIService on
    the real API server (as metrics-server is installed); waits until the API server serves it."""
    core, reg = client.CoreV1Api(api), client.ApiregistrationV1Api(api)
    service = client.V1Service(
        metadata=client.V1ObjectMeta(name=METRICS_SERVICE),
        spec=client.V1ServiceSpec(
            type="ExternalName", external_name="localhost", ports=[client.V1ServicePort(port=port)]
        ),
    )
    _ensure(core.create_namespaced_service, "kube-system", service)
    core.patch_namespaced_service(METRICS_SERVICE, "kube-system", {"spec": {"ports": [{"port": port}]}})
    spec = {
        "group": "metrics.k8s.io",
        "version": "v1beta1",
        "groupPriorityMinimum": 100,
        "versionPriority": 100,
        "insecureSkipTLSVerify": True,
        "service": {"namespace": "kube-system", "name": METRICS_SERVICE, "port": port},
    }
    body = {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": APISERVICE}}
    _ensure(reg.create_api_service, {**body, "spec": spec})
    reg.patch_api_service(APISERVICE, {"spec": spec})
    deadline = time.monotonic() + timeout_s
    while not metrics_served(api):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API server does not serve metrics.k8s.io from 127.0.0.1:{port}")
        time.sleep(0.3)


def unregister_metrics_api(api: client.ApiClient, timeout_s: float = 30) -> None:
    """Remove the APIService (as if metrics-server were not installed) and wait until it is gone."""
    reg, core = client.ApiregistrationV1Api(api), client.CoreV1Api(api)
    for delete, args in (
        (reg.delete_api_service, (APISERVICE,)),
        (core.delete_namespaced_service, (METRICS_SERVICE, "kube-system")),
    ):
        try:
            delete(*args)
        except ApiException as err:
            if err.status != 404:
                raise
    deadline = time.monotonic() + timeout_s
    while metrics_served(api) and time.monotonic() < deadline:
        time.sleep(0.3)


DEMO_LABEL = "alp-testbed/demo"


def clear_demo(api: client.ApiClient) -> None:
    """Take away what `scripts/testbed demo` added to the world (its pods, their deployments scaled
    back to 0, its events, the metrics APIService), so tests start from the runbook's world without faults."""
    core = client.CoreV1Api(api)
    from scripts.world.owned_pods import scale_owners_to_zero

    scale_owners_to_zero(api, core.list_pod_for_all_namespaces(label_selector=DEMO_LABEL).items)
    for pod in core.list_pod_for_all_namespaces(label_selector=DEMO_LABEL).items:
        try:
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
        except ApiException as err:
            if err.status != 404:
                raise
    for event in core.list_event_for_all_namespaces(label_selector=DEMO_LABEL).items:
        try:
            core.delete_namespaced_event(event.metadata.name, event.metadata.namespace)
        except ApiException as err:
            if err.status != 404:
                raise
    if metrics_served(api):
        unregister_metrics_api(api)
