"""The runbook's world: defined once in scripts/world/kube.py (also used by `scripts/testbed demo`)."""

from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from scripts.world.kube import (  # noqa: F401  (the names tests import from here)
    CONFIGMAPS,
    ENV,
    NODE,
    PLATFORM,
    SERVICES,
    create_world,
    delete_namespace,
    deployment,
    make_pod,
    register_node,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def apply_manifests(api: client.ApiClient) -> None:
    """`kubectl apply -k deploy/` (server-side apply, so a changed Role replaces the old one)."""
    from kubernetes.dynamic import DynamicClient

    dyn = DynamicClient(api)
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((DEPLOY / name).read_text()):
            if not doc:
                continue
            if doc["kind"] == "Deployment":  # the image name is kustomize's to fill in
                doc["spec"]["template"]["spec"]["containers"][0]["image"] = "alp:test"
                doc["spec"]["replicas"] = 0  # no kubelet here: a Pending bot pod would only muddy `health`
            resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            resource.server_side_apply(
                body=doc,
                name=doc["metadata"]["name"],
                namespace=doc["metadata"].get("namespace"),
                field_manager="alp-tests",
                force_conflicts=True,
            )


APISERVICE = "v1beta1.metrics.k8s.io"


def metrics_served(api) -> bool:
    try:
        client.CustomObjectsApi(api).list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
        return True
    except ApiException:
        return False
