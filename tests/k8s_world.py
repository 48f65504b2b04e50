"""The runbook's world on the test bed's real API server, created idempotently.

Namespaces, the four service deployments, the configmaps the runbook patches, the JWT
signing-key secret, and the infrastructure pods (postgres-0, redis-0, kafka-0) as plain
Pods: with no kubelet they stay Pending unless a test sets their status.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

PLATFORM = "adaptive-learning-production"
SERVICES = {"auth-service": 3001, "user-service": 3002, "scheduler-service": 3003, "ml-service": 3005}
CONFIGMAPS = {
    "auth-config": {"fallback_enabled": "false", "cache_enabled": "false", "cache_ttl": "60",
                    "oauth_endpoint": "https://auth0.com"},
    "scheduler-config": {"fallback_enabled": "false"},
    "ml-service-config": {"cache_predictions": "false", "prediction_timeout": "5s"},
    "user-service-config": {"lock_timeout": "10s"},
    "postgres-config": {"max_connections": "100", "shared_preload_libraries": "pg_stat_statements"},
}
ENV = {"scheduler-service": {"ALGORITHM_VERSION": "v1.1.0"},
       "ml-service": {"MODEL_VERSION": "v1.3.0", "MODEL_VARIANT": "large"}}


def _ensure(create: Any, *args: Any) -> None:
    try:
        create(*args)
    except ApiException as err:
        if err.status != 409:
            raise


def deployment(name: str, port: int, namespace: str = PLATFORM, replicas: int = 1) -> client.V1Deployment:
    env = [client.V1EnvVar(name=k, value=v) for k, v in ENV.get(name, {}).items()]
    container = client.V1Container(
        name=name, image=f"registry.example/alp/{name}:1.0", ports=[client.V1ContainerPort(container_port=port)],
        env=env or None,
        resources=client.V1ResourceRequirements(limits={"cpu": "1", "memory": "1Gi"},
                                                requests={"cpu": "100m", "memory": "256Mi"}),
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


def create_world(api: client.ApiClient) -> None:
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    for ns in (PLATFORM, "infrastructure", "istio-system", "falco-system", "kong"):
        _ensure(core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    for name, port in SERVICES.items():
        _ensure(apps.create_namespaced_deployment, PLATFORM, deployment(name, port))
        _ensure(core.create_namespaced_service, PLATFORM, client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(selector={"app": name}, ports=[client.V1ServicePort(port=port)])))
    for name, data in CONFIGMAPS.items():
        _ensure(core.create_namespaced_config_map, PLATFORM,
                client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data))
    _ensure(core.create_namespaced_config_map, "kong", client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="kong-config"),
        data={"rate_limit": "100", "rate_limit_window": "60", "blocked_ips": ""}))
    _ensure(core.create_namespaced_secret, PLATFORM, client.V1Secret(
        metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"key": "super-secret-signing-key"}))
    for pod, app in (("postgres-0", "postgres"), ("redis-0", "redis"), ("kafka-0", "kafka")):
        _ensure(core.create_namespaced_pod, "infrastructure", client.V1Pod(
            metadata=client.V1ObjectMeta(name=pod, labels={"app": app}),
            spec=client.V1PodSpec(containers=[client.V1Container(name=app, image=f"{app}:latest")])))
    for name, port in (("postgres", 5432), ("redis", 6379), ("kafka", 9092)):
        _ensure(core.create_namespaced_service, "infrastructure", client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(selector={"app": name}, ports=[client.V1ServicePort(port=port)])))
    _ensure(apps.create_namespaced_deployment, "istio-system", deployment("istiod", 15010, "istio-system"))
    _ensure(apps.create_namespaced_deployment, "kong", deployment("kong-gateway", 8000, "kong"))
