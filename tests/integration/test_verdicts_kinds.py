"""Issue #25's smaller kinds that the scenario catalogue's headline cannot show, against the real
servers: why a pod is Pending, a pod being deleted, and a remedy for replicas no node can take."""

from __future__ import annotations

import pytest
from kubernetes import client

from commands.report import Severity, Table
from tests.support.checks_env import actions, finding, run
from tests.support.k8s_world import deployment, make_pod
from tests.support.scenario_world import World, wait

pytestmark = pytest.mark.slow


@pytest.fixture
async def world(testbed, kube_admin, kubelet, platform, ns, unique):
    w = World(testbed, kube_admin, kubelet, platform, ns, unique)
    yield w
    await w.close()


UNSCHEDULABLE = {
    "phase": "Pending",
    "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes available"},
        {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
    ],
}


def rows(f) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [r for e in f.evidence if isinstance(e, Table) for r in e.rows]


async def test_a_pending_pod_says_unschedulable_and_a_deleted_one_terminating(world, kube_admin, ns):
    core = client.CoreV1Api(kube_admin)
    make_pod(kube_admin, ns, "ml-service-1", "ml-service")
    core.patch_namespaced_pod_status("ml-service-1", ns, {"status": UNSCHEDULABLE})
    make_pod(kube_admin, ns, "user-service-1", "user-service", ready=False)
    pod = core.read_namespaced_pod("user-service-1", ns)
    pod.metadata.finalizers = ["alp.test/hold"]  # deleted, held by a finalizer: Terminating, as kubectl shows
    core.replace_namespaced_pod("user-service-1", ns, pod)
    core.delete_namespaced_pod("user-service-1", ns)
    world.undo.append(lambda: core.patch_namespaced_pod("user-service-1", ns, {"metadata": {"finalizers": None}}))

    report = await run("health", world.cfg())

    pods = finding(report, "Pods in all namespaces")
    by_pod = {r[1]: r for r in rows(pods)}
    assert by_pod["ml-service-1"][2] == "Pending" and by_pod["ml-service-1"][5] == "Unschedulable", by_pod
    assert "user-service-1" not in by_pod, by_pod  # on its way out, not a fault of its own


async def test_latency_offers_no_restart_for_replicas_no_node_can_take(world, kube_admin, ns):
    apps, core = client.AppsV1Api(kube_admin), client.CoreV1Api(kube_admin)
    apps.create_namespaced_deployment(ns, deployment("ml-service", 3005, ns, replicas=1))
    world.undo.append(lambda: apps.patch_namespaced_deployment_scale("ml-service", ns, {"spec": {"replicas": 0}}))
    pods = wait(lambda: core.list_namespaced_pod(ns, label_selector="app=ml-service").items)
    core.patch_namespaced_pod_status(pods[0].metadata.name, ns, {"status": UNSCHEDULABLE})

    report = await run("latency", world.cfg())

    short = finding(report, "below desired replicas")
    assert short.severity is Severity.CRITICAL
    assert "restart" not in actions(short), short.suggestions
    assert "Unschedulable" in short.detail and "ml-service" in short.detail


async def test_external_goes_through_the_proxy_the_environment_names(world, monkeypatch):
    """`external` reaches the provider as curl would: through HTTP(S)_PROXY, except NO_PROXY hosts."""
    from tests.support.checks_env import CLOSED

    monkeypatch.setenv("HTTP_PROXY", f"http://{CLOSED}")
    monkeypatch.setenv("HTTPS_PROXY", f"http://{CLOSED}")
    via_dead_proxy = await run("external", world.cfg())
    https = finding(via_dead_proxy, "unreachable")
    assert https.severity is Severity.CRITICAL and CLOSED.split(":")[-1] in https.detail, https

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert (await run("external", world.cfg())).severity is Severity.OK


async def test_unreadable_logs_are_worded_once_with_the_api_servers_answer(world, kube_admin, ns):
    """A pod on a node whose kubelet does not answer: every log check says "logs could not be
    read" with the API server's answer in its title, the metric checks as the grep checks."""
    core = client.CoreV1Api(kube_admin)
    node = f"alp-dead-{world.unique}"
    core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=node)))
    world.undo.append(lambda: core.delete_node(node))
    core.patch_node_status(
        node,
        {
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 1}},  # nothing listens
            }
        },
    )
    for app in ("auth-service", "scheduler-service"):
        core.create_namespaced_pod(
            ns,
            client.V1Pod(
                metadata=client.V1ObjectMeta(name=f"{app}-1", labels={"app": app}),
                spec=client.V1PodSpec(node_name=node, containers=[client.V1Container(name="app", image="x")]),
            ),
        )

    metric = finding(await run("auth-latency", world.cfg()), "auth-service")
    grep = finding(await run("algorithm", world.cfg()), "scheduler-service")

    for f in (metric, grep):
        assert f.severity is Severity.UNKNOWN and ": logs could not be read: " in f.title, f
        assert "HTTP 5" in f.title or "HTTP 4" in f.title, f.title
