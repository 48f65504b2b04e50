"""deploy/ applied to the real API server; the bot's ServiceAccount can do its job and no more."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

import commands.changes
import commands.logs  # noqa: F401  (each registers its step)
from commands.backends.kube import RESTARTED_AT, Kube, KubeError, KubeForbidden, KubeNotFound
from commands.kube.findings import refusal_finding
from commands.report import Severity
from tests.support.k8s_world import PLATFORM, apply_manifests, deployment


@pytest.fixture(scope="module")
def bot_kube(kube_admin: client.ApiClient) -> Any:
    """A Kube client authenticated as the alp ServiceAccount through a TokenRequest."""
    apply_manifests(kube_admin)
    core = client.CoreV1Api(kube_admin)
    token = core.create_namespaced_service_account_token(
        "alp",
        "alp",
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)),
    ).status.token
    cfg = client.Configuration()
    admin_cfg = kube_admin.configuration
    cfg.host, cfg.ssl_ca_cert = admin_cfg.host, admin_cfg.ssl_ca_cert
    cfg.api_key = {"authorization": f"Bearer {token}"}
    kube = Kube(timeout_s=10, configuration=cfg)
    yield kube
    kube.close()


async def test_reads_the_checks_make_are_allowed(bot_kube: Kube):
    assert any(p.metadata.name == "postgres-0" for p in await bot_kube.list_pods(None))
    assert await bot_kube.list_pods(PLATFORM, "app=auth-service") is not None
    assert {d.metadata.name for d in await bot_kube.list_deployments(PLATFORM)} >= {
        "auth-service",
        "user-service",
        "scheduler-service",
        "ml-service",
    }
    assert (await bot_kube.get_scale(PLATFORM, "user-service")).metadata.name == "user-service"
    await bot_kube.list_events(PLATFORM)
    await bot_kube.list_endpoints(PLATFORM)
    await bot_kube.get_endpoints("infrastructure", "postgres")
    await bot_kube.list_network_policies(PLATFORM)
    await bot_kube.list_nodes()
    await bot_kube.list_pods("infrastructure", "app=postgres")
    await bot_kube.list_pods("istio-system")
    await bot_kube.list_pods("falco-system")
    await bot_kube.list_pods("kong")
    assert (await bot_kube.get_configmap(PLATFORM, "auth-config")).data["fallback_enabled"]
    assert (await bot_kube.get_configmap("kong", "kong-config")).data["rate_limit"]
    for ns in (PLATFORM, "infrastructure"):  # changes: the rollout history of both namespaces
        await bot_kube.list_deployments(ns)
        await bot_kube.list_replicasets(ns)
        await bot_kube.list_statefulsets(ns)
        await bot_kube.list_controller_revisions(ns)
    assert any(r.metadata.name.startswith("user-service-") for r in await bot_kube.list_replicasets(PLATFORM))
    assert any(
        r.metadata.name.startswith("postgres-") for r in await bot_kube.list_controller_revisions("infrastructure")
    )
    await bot_kube.pod_log("infrastructure", "postgres-0", 10, previous=False, timestamps=True)


async def test_secret_is_read_as_metadata_only(bot_kube: Kube):
    meta = await bot_kube.secret_metadata(PLATFORM, "jwt-signing-key")
    assert meta["name"] == "jwt-signing-key" and meta["creationTimestamp"]
    assert "super-secret-signing-key" not in repr(meta)


async def test_endpoints_that_need_a_kubelet_or_metrics_server_are_not_refused(bot_kube: Kube):
    # authorized (not 403), but the control plane alone cannot serve them
    try:  # a Pending pod has no logs; a scheduled one needs its kubelet. Either way: not 403.
        assert await bot_kube.pod_log("infrastructure", "postgres-0", tail_lines=10) == ""
    except KubeError as err:
        assert not isinstance(err, KubeForbidden)
    with pytest.raises(KubeNotFound):
        await bot_kube.pod_metrics(PLATFORM)


async def test_actions_are_allowed_and_dry_run_changes_nothing(bot_kube: Kube, kube_admin):
    apps, core = client.AppsV1Api(kube_admin), client.CoreV1Api(kube_admin)
    before = apps.read_namespaced_deployment("user-service", PLATFORM)

    await bot_kube.restart_deployment(PLATFORM, "user-service", dry_run=True)
    await bot_kube.scale_deployment(PLATFORM, "user-service", 4, dry_run=True)
    await bot_kube.patch_configmap(PLATFORM, "auth-config", {"fallback_enabled": "true"}, dry_run=True)
    await bot_kube.patch_container(
        PLATFORM,
        "scheduler-service",
        "scheduler-service",
        {"env": [{"name": "ALGORITHM_VERSION", "value": "v1.0.0"}]},
        dry_run=True,
    )
    await bot_kube.patch_container(
        PLATFORM, "auth-service", "auth-service", {"resources": {"limits": {"cpu": "2", "memory": "4Gi"}}}, dry_run=True
    )
    await bot_kube.delete_secret(PLATFORM, "jwt-signing-key", dry_run=True)
    await bot_kube.delete_pod("infrastructure", "postgres-0", dry_run=True)
    await bot_kube.patch_configmap("kong", "kong-config", {"rate_limit": "10"}, dry_run=True)
    await bot_kube.restart_deployment("istio-system", "istiod", dry_run=True)

    after = apps.read_namespaced_deployment("user-service", PLATFORM)
    assert after.spec.replicas == before.spec.replicas
    assert after.metadata.generation == before.metadata.generation
    assert core.read_namespaced_config_map("auth-config", PLATFORM).data["fallback_enabled"] == "false"
    assert core.read_namespaced_secret("jwt-signing-key", PLATFORM).metadata.name == "jwt-signing-key"
    assert core.read_namespaced_pod("postgres-0", "infrastructure").metadata.deletion_timestamp is None


async def test_real_restart_and_scale(bot_kube: Kube, kube_admin):
    apps = client.AppsV1Api(kube_admin)
    await bot_kube.restart_deployment(PLATFORM, "ml-service")
    await bot_kube.scale_deployment(PLATFORM, "ml-service", 3)
    d = apps.read_namespaced_deployment("ml-service", PLATFORM)
    assert RESTARTED_AT in (d.spec.template.metadata.annotations or {})
    assert d.spec.replicas == 3
    # kube-controller-manager rolls the restart out as a new ReplicaSet
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rs = client.AppsV1Api(kube_admin).list_namespaced_replica_set(PLATFORM, label_selector="app=ml-service")
        if len(rs.items) >= 2:
            break
        await asyncio.sleep(0.5)
    assert len(rs.items) >= 2, "no new ReplicaSet after the restart"
    await bot_kube.scale_deployment(PLATFORM, "ml-service", 0)
    core = client.CoreV1Api(kube_admin)
    deadline = time.monotonic() + 30
    while core.list_namespaced_pod(PLATFORM, label_selector="app=ml-service").items:  # leave no Pending pods
        assert time.monotonic() < deadline
        for p in core.list_namespaced_pod(PLATFORM, label_selector="app=ml-service").items:
            try:
                core.delete_namespaced_pod(p.metadata.name, PLATFORM, grace_period_seconds=0)
            except ApiException as err:
                assert err.status == 404  # the ReplicaSet controller got there first
        await asyncio.sleep(0.3)


@pytest.mark.parametrize(
    ("attempt", "verb", "resource"),
    [
        ("read another secret", "get", "secrets"),
        ("list secrets", "list", "secrets"),
        ("delete a deployment", "delete", "deployments"),
        ("create a deployment", "create", "deployments"),
        ("patch a configmap outside the allowlist", "patch", "configmaps"),
        ("patch another namespace's configmap", "patch", "configmaps"),
        ("exec into a pod", "create", "pods/exec"),
        ("delete a namespace", "delete", "namespaces"),
        ("delete a pod other than the named ones", "delete", "pods"),
    ],
)
async def test_things_outside_its_job_are_refused(bot_kube: Kube, kube_admin, attempt, verb, resource):
    core = client.CoreV1Api(kube_admin)
    for ns, name in ((PLATFORM, "db-password"),):
        try:
            core.create_namespaced_secret(
                ns, client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data={"password": "hunter2"})
            )
        except ApiException as err:
            assert err.status == 409
    try:
        core.create_namespaced_config_map(
            "kube-system", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="auth-config"), data={"x": "1"})
        )
    except ApiException as err:
        assert err.status == 409

    b_core, b_apps = bot_kube.core, bot_kube.apps
    calls = {
        "read another secret": lambda **_: b_core.read_namespaced_secret("db-password", PLATFORM),
        "list secrets": lambda **_: b_core.list_namespaced_secret(PLATFORM),
        "delete a deployment": lambda **_: b_apps.delete_namespaced_deployment("auth-service", PLATFORM, dry_run="All"),
        "create a deployment": lambda **_: b_apps.create_namespaced_deployment(
            PLATFORM, deployment("intruder", 80), dry_run="All"
        ),
        "patch a configmap outside the allowlist": lambda **_: b_core.patch_namespaced_config_map(
            "kube-root-ca.crt", PLATFORM, {"data": {"x": "1"}}, dry_run="All"
        ),
        "patch another namespace's configmap": lambda **_: b_core.patch_namespaced_config_map(
            "auth-config", "kube-system", {"data": {"x": "1"}}, dry_run="All"
        ),
        "exec into a pod": lambda **_: b_core.connect_post_namespaced_pod_exec(
            "postgres-0", "infrastructure", command=["sh"]
        ),
        "delete a namespace": lambda **_: b_core.delete_namespace("kong", dry_run="All"),
        "delete a pod other than the named ones": lambda **_: b_core.delete_namespaced_pod(
            "not-allowed-0", "infrastructure", dry_run="All"
        ),
    }
    with pytest.raises(KubeForbidden) as refused:
        await bot_kube._call(verb, resource, PLATFORM, None, calls[attempt])
    finding = refusal_finding(refused.value)
    assert finding.severity is Severity.CRITICAL
    assert finding.title.startswith("The bot's role does not allow") and resource in finding.title
    assert "deploy/rbac.yaml" in finding.detail


async def test_unreachable_api_server_is_reported_within_the_timeout():
    import socket

    from commands.kube.findings import kube_error_finding

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        cfg = client.Configuration()
        cfg.host = f"https://127.0.0.1:{s.getsockname()[1]}"
        kube = Kube(timeout_s=2, configuration=cfg)
        t0 = time.monotonic()
        with pytest.raises(KubeError) as err:
            await kube.list_pods(None)
    assert time.monotonic() - t0 < 5
    finding = kube_error_finding(err.value, "pods")
    assert finding.title == "Kubernetes API unreachable" and finding.severity is Severity.CRITICAL


def test_no_kube_configuration_is_a_clear_error(monkeypatch, tmp_path):
    from commands.backends.kube import KubeUnavailable, load_configuration

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeUnavailable, match="set KUBECONFIG"):
        load_configuration()


async def test_every_check_and_action_preview_runs_as_the_bot(
    kube_admin, bot_kube, testbed, platform, tmp_path, monkeypatch
):
    """The whole catalogue as the bot's ServiceAccount: nothing it needs is refused by its role."""
    import commands.actions
    import commands.checks  # noqa: F401
    from commands.actions.registry import ACTIONS, ActionContext
    from commands.actions.runner import preview, validate
    from commands.registry import CHECKS
    from tests.support.checks_env import config_for, run

    cfg_k = bot_kube.api.configuration
    kubeconfig = tmp_path / "bot.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "bot",
                "clusters": [
                    {"name": "t", "cluster": {"server": cfg_k.host, "certificate-authority": cfg_k.ssl_ca_cert}}
                ],
                "users": [{"name": "bot", "user": {"token": cfg_k.api_key["authorization"].removeprefix("Bearer ")}}],
                "contexts": [{"name": "bot", "context": {"cluster": "t", "user": "bot"}}],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    cfg = config_for(testbed, platform, PLATFORM)
    cfg.platform.infra_namespace = "infrastructure"

    refused = []
    for spec in CHECKS:
        report = await run(spec.name, cfg)
        refused += [f"{spec.name}: {f.title}" for f in report.findings if "role does not allow" in f.title]
    from commands.registry import FIRST_STEPS, CheckContext
    from commands.runner import run_check

    for name, raw in (("changes", {"since": "2d"}), ("logs", {"service": "postgres"})):
        step = FIRST_STEPS.get(name)
        assert step is not None
        report = await run_check(step, CheckContext(cfg), step.params.model_validate(raw))
        refused += [f"{name}: {f.title} {f.detail}" for f in report.findings if "role does not allow" in f.detail]
        assert report.findings and all("role does not allow" not in f.title for f in report.findings)
    samples = {
        "restart": {"deployment": "auth-service"},
        "scale": {"deployment": "auth-service", "replicas": 2},
        "set-config": {"configmap": "auth-config", "cache_enabled": "true"},
        "rollback": {"deployment": "ml-service", "env": "MODEL_VERSION", "value": "v1.2.0"},
        "set-resources": {"statefulset": "postgres", "cpu": "500m", "memory": "512Mi", "which": "requests"},
        "rotate-jwt-key": {},
        "delete-pod": {"pod": "postgres-0"},
        "block-ips": {"ips": "198.51.100.23"},
        "rate-limit": {"rate_limit": 10, "rate_limit_window": 60},
    }
    for name, raw in samples.items():
        spec = ACTIONS.get(name)
        pre = await preview(spec, ActionContext(cfg), validate(spec, raw))
        if pre.refusal:
            refused.append(f"{name}: {pre.refusal}")
    assert refused == []
