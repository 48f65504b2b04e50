"""health, network, external, latency and memory: cluster-wide views on the real API server."""

from __future__ import annotations

import time

from kubernetes import client

from commands.report import Severity
from tests.support.checks_env import CLOSED, actions, config_for, finding, run
from tests.support.k8s_world import make_pod, metrics_served


async def test_health_all_green(testbed, kube_admin, platform, ns):
    from tests.support.kafka import create_topic

    try:
        await create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], "user.attempts", 3)
    except Exception:
        pass
    make_pod(kube_admin, ns, "auth-service-1", "auth-service")
    platform.health.clear()
    seen: list[tuple[str, str]] = []

    async def progress(probe: str, state: str) -> None:
        seen.append((probe, state))

    report = await run("health", config_for(testbed, platform, ns), progress=progress)

    assert report.severity is Severity.OK, [(f.severity, f.title) for f in report.findings]
    assert set(report.data["components"]) == {
        "pods",
        "events",
        "auth-service",
        "user-service",
        "scheduler-service",
        "ml-service",
        "postgres",
        "redis",
        "kafka",
    }
    assert {p for p, state in seen if state == "running"} == set(report.data["components"])
    assert {p for p, state in seen if state == "done"} == set(report.data["components"])


async def test_health_reports_each_broken_component(testbed, kube_admin, platform, ns):
    make_pod(kube_admin, ns, "user-service-1", "user-service", ready=False, waiting="CrashLoopBackOff", restarts=9)
    make_pod(kube_admin, ns, "ml-service-1", "ml-service", ready=False, phase="Pending")
    platform.health["user-service"] = 503
    cfg = config_for(testbed, platform, ns, redis_url=f"redis://{CLOSED}/0", kafka_bootstrap=CLOSED)
    t0 = time.monotonic()
    try:
        report = await run("health", cfg)
    finally:
        platform.health.clear()
    assert time.monotonic() - t0 < 10
    pods = finding(report, "not running/ready (2 of")
    assert pods.title.startswith("Pods in all namespaces: ") and "user-service" in pods.title, pods.title
    assert f"{ns}" in str(pods.evidence) and "CrashLoopBackOff" in str(pods.evidence)
    assert finding(report, "user-service /health failing").severity is Severity.CRITICAL
    assert finding(report, "auth-service /health: 200")
    assert finding(report, "Redis unreachable").severity is Severity.CRITICAL
    assert finding(report, "Kafka unreachable").severity is Severity.CRITICAL
    assert finding(report, "PostgreSQL: SELECT 1").severity is Severity.OK
    assert report.data["components"]["redis"] == "critical" and report.data["components"]["postgres"] == "ok"


async def test_pod_reasons_oomkilled_and_not_ready(testbed, kube_admin, platform, ns):
    make_pod(kube_admin, ns, "auth-service-1", "auth-service", oom=True, restarts=2)
    make_pod(kube_admin, ns, "auth-service-2", "auth-service", ready=False)
    report = await run("auth", config_for(testbed, platform, ns))
    pods = finding(report, "not running/ready (2 of 2 pods)")
    # the headline names the pods and why, not only how many
    assert pods.title.startswith("auth-service: auth-service-1 (") and ", auth-service-2 (" in pods.title, pods.title
    evidence = str(pods.evidence)
    assert "last restart OOMKilled" in evidence and "ContainersNotReady" in evidence


async def test_network(testbed, kube_admin, platform, ns, cleanup_pods, unique):
    core = client.CoreV1Api(kube_admin)
    istiod = f"istiod-{unique}"
    make_pod(kube_admin, "istio-system", istiod, "istiod")
    cleanup_pods.append(("istio-system", istiod))
    good = await run("network", config_for(testbed, platform, ns))
    # no services in the namespace yet: nothing to judge there, the rest is fine
    assert good.severity is Severity.UNKNOWN, [(f.severity, f.title) for f in good.findings]
    assert finding(good, "No services (endpoints) in").severity is Severity.UNKNOWN
    assert finding(good, "auth-service: 127.0.0.1:")

    core.create_namespaced_service(
        ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name="user-service"),
            spec=client.V1ServiceSpec(selector={"app": "user-service"}, ports=[client.V1ServicePort(port=3002)]),
        ),
    )
    client.NetworkingV1Api(kube_admin).create_namespaced_network_policy(
        ns,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="allow-auth-service"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(match_labels={"app": "auth-service"}), policy_types=["Ingress"]
            ),
        ),
    )
    core.delete_namespaced_pod(istiod, "istio-system", grace_period_seconds=0)
    cleanup_pods.clear()
    make_pod(kube_admin, "istio-system", istiod + "b", "istiod", ready=False, waiting="CrashLoopBackOff")
    cleanup_pods.append(("istio-system", istiod + "b"))
    cfg = config_for(testbed, platform, ns)
    cfg.platform.services[1] = cfg.platform.services[1].model_copy(update={"url": "http://127.0.0.1:1"})

    bad = await run("network", cfg)
    assert "restart" in actions(finding(bad, "not running/ready (1 of 1 pods)"))
    assert "user-service" in finding(bad, "with no ready endpoint").title
    # despite its name it types Ingress with no rule: it denies all ingress to auth-service's pods
    cut = finding(bad, "NetworkPolicy allow-auth-service denies all ingress to app=auth-service")
    assert cut.severity is Severity.WARNING and "allow-auth-service" in str(cut.evidence)
    assert finding(bad, "user-service: cannot connect").severity is Severity.CRITICAL


async def test_external(testbed, platform):
    good = await run("external", config_for(testbed, platform, "default"))
    assert good.severity is Severity.OK
    assert finding(good, "DNS: 127.0.0.1")
    cfg = config_for(testbed, platform, "default")
    cfg.endpoints.oauth_url = "https://auth.alp-test.invalid"
    bad = await run("external", cfg)
    dns = finding(bad, "does not resolve")
    assert dns.severity is Severity.CRITICAL and "set-config" in actions(dns)
    assert finding(bad, "unreachable").severity is Severity.CRITICAL


async def test_metrics_server_missing_is_a_finding(testbed, kube_admin, platform, ns):
    make_pod(kube_admin, ns, "auth-service-1", "auth-service")
    assert not metrics_served(kube_admin)
    report = await run("memory", config_for(testbed, platform, ns))
    f = finding(report, "metrics-server not installed")
    assert f.severity is Severity.UNKNOWN and "kubectl top" in f.detail


async def test_memory(testbed, kube_admin, platform, ns, metrics_api):
    kubelet = metrics_api
    make_pod(kube_admin, ns, "auth-service-1", "auth-service", memory_limit="1Gi")
    make_pod(kube_admin, ns, "user-service-1", "user-service", memory_limit="1Gi", oom=True, restarts=3)
    kubelet.set_pod_metrics(ns, "auth-service-1", cpu="300m", memory="980Mi")
    kubelet.set_pod_metrics(ns, "user-service-1", cpu="100m", memory="200Mi")
    kubelet.logs[(ns, "auth-service-1")] = "2026-11-28T03:00:00Z WARN GC overhead high: heap 95% after full gc\n"

    report = await run("memory", config_for(testbed, platform, ns))

    high = finding(report, "1 container(s) above 90% of their memory limit")
    assert high.severity is Severity.WARNING
    assert {"restart", "set-resources"} <= actions(high)
    assert next(s for s in high.suggestions if s.action == "set-resources").params["memory"] == "2Gi"
    assert report.data["pods"][0]["pod"] == "auth-service-1"  # sorted by memory use
    assert finding(report, "restarted after OOMKilled").severity is Severity.CRITICAL
    assert finding(report, "auth-service: 1 memory/leak/gc line(s)")

    kubelet.set_pod_metrics(ns, "auth-service-1", cpu="300m", memory="300Mi")
    kubelet.logs[(ns, "auth-service-1")] = "INFO fine\n"
    client.CoreV1Api(kube_admin).delete_namespaced_pod("user-service-1", ns, grace_period_seconds=0)
    kubelet.metrics[ns] = [m for m in kubelet.metrics[ns] if m["metadata"]["name"] != "user-service-1"]
    for app in ("user-service", "scheduler-service", "ml-service"):  # every service's logs, so nothing is unknown
        make_pod(kube_admin, ns, f"{app}-2", app)
        kubelet.logs[(ns, f"{app}-2")] = "INFO fine\n"
    healthy = await run("memory", config_for(testbed, platform, ns))
    assert healthy.severity is Severity.OK, [(f.severity, f.title) for f in healthy.findings]


async def test_latency(testbed, kube_admin, platform, ns, metrics_api):
    kubelet = metrics_api
    apps = client.AppsV1Api(kube_admin)
    from tests.support.k8s_world import deployment

    apps.create_namespaced_deployment(ns, deployment("user-service", 3002, ns, replicas=2))
    make_pod(kube_admin, ns, "auth-service-1", "auth-service")
    kubelet.set_pod_metrics(ns, "auth-service-1", cpu="950m", memory="700Mi")
    kubelet.logs[(ns, "auth-service-1")] = "\n".join(f"GET /auth/me 200 response_time={900 + i}ms" for i in range(10))

    report = await run("latency", config_for(testbed, platform, ns))

    rt = finding(report, "auth-service response_time")
    assert rt.severity is Severity.WARNING and {"scale", "set-resources"} <= actions(rt)
    assert "950m" in str(finding(report, "Resource use of 1 pod(s)").evidence)
    below = finding(report, "1 deployment(s) below desired replicas")
    assert "user-service" in str(below.evidence) and below.severity is Severity.CRITICAL

    apps.patch_namespaced_deployment_scale("user-service", ns, {"spec": {"replicas": 0}})
    kubelet.logs[(ns, "auth-service-1")] = "GET /auth/me 200 response_time=45ms\n"
    scaled_down = await run("latency", config_for(testbed, platform, ns))
    zero = finding(scaled_down, "Deployment user-service is scaled to 0 desired replicas")  # not "all ready"
    assert zero.severity is Severity.CRITICAL and actions(zero) == {"scale"}
    assert finding(scaled_down, "auth-service response_time").severity is Severity.OK


async def test_warning_events_newest_first(testbed, kube_admin, platform, ns):
    from datetime import UTC, datetime, timedelta

    core = client.CoreV1Api(kube_admin)
    base = datetime.now(UTC) - timedelta(minutes=30)
    for i, (reason, kind) in enumerate(
        [("BackOff", "Warning"), ("Pulled", "Normal"), ("FailedMount", "Warning"), ("Unhealthy", "Warning")]
    ):
        core.create_namespaced_event(
            ns,
            client.CoreV1Event(
                metadata=client.V1ObjectMeta(name=f"ev-{i}"),
                type=kind,
                reason=reason,
                count=i + 1,
                message=f"{reason} happened",
                last_timestamp=base + timedelta(minutes=i * 5),
                first_timestamp=base,
                involved_object=client.V1ObjectReference(kind="Pod", name=f"auth-service-{i}", namespace=ns),
            ),
        )
    report = await run("health", config_for(testbed, platform, ns))
    f = finding(report, "3 Warning event(s)")
    [table] = [e for e in f.evidence if e.kind == "table"]
    assert [r[2] for r in table.rows] == ["Unhealthy", "FailedMount", "BackOff"]  # newest first, Normal left out
    assert f.severity is Severity.WARNING
