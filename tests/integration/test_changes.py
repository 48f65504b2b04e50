"""`alp changes` against the real control plane (the controller-manager makes the ReplicaSets
and ControllerRevisions), `alp do set-config` and `alp --json changes` as real processes, and
the one-line summary in health, critical reports, pages and postmortems."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from kubernetes import client

import commands.changes
import commands.logs  # noqa: F401  (each registers its step)
from commands.changes import incident_change_lines
from commands.changes.audit import audit_changes
from commands.changes.pod_templates import diff_templates
from commands.changes.sources import Change
from commands.registry import FIRST_STEPS, CheckContext
from commands.report import Severity
from commands.runner import run_check
from tests.support.checks_env import config_for, finding, run
from tests.support.k8s_world import deployment
from tests.support.processes import ROOT, wait_until


async def changes(cfg, **params):  # type: ignore[no-untyped-def]
    spec = FIRST_STEPS.get("changes")
    assert spec is not None
    return await run_check(spec, CheckContext(cfg), spec.params.model_validate(params))


def rolled(api, ns: str, name: str, image: str, env: dict[str, str], manager: str = "kubectl-set") -> None:  # type: ignore[no-untyped-def]
    """`kubectl set image/env`: a new pod template, so a new ReplicaSet (revision n+1)."""
    apps = client.AppsV1Api(api)
    before = len(replicasets(api, ns, name))
    patch = {"name": name, "image": image, "env": [{"name": k, "value": v} for k, v in env.items()]}
    apps.patch_namespaced_deployment(
        name, ns, {"spec": {"template": {"spec": {"containers": [patch]}}}}, field_manager=manager
    )
    wait_until(lambda: len(replicasets(api, ns, name)) > before)


def replicasets(api, ns: str, name: str) -> list:  # type: ignore[no-untyped-def]
    items = client.AppsV1Api(api).list_namespaced_replica_set(ns, label_selector=f"app={name}").items
    return [r for r in items if r.metadata.name.startswith(f"{name}-")]


def create_deployment(api, ns: str, name: str, env: dict[str, str], replicas: int = 0, **spec) -> None:  # type: ignore[no-untyped-def]
    d = deployment(name, 8080, ns, replicas=replicas)
    d.spec.template.spec.containers[0].env = [client.V1EnvVar(name=k, value=v) for k, v in env.items()]
    for k, v in spec.items():
        setattr(d.spec, k, v)
    client.AppsV1Api(api).create_namespaced_deployment(ns, d)
    wait_until(lambda: replicasets(api, ns, name))


async def test_a_rollout_shows_image_env_and_resources_with_secrets_masked(testbed, kube_admin, platform, ns):
    create_deployment(kube_admin, ns, "user-service", {"DB_PASSWORD": "hunter2-first", "LOG_LEVEL": "info"})
    rolled(kube_admin, ns, "user-service", "registry.example/alp/user-service:1.5.0", {"DB_PASSWORD": "hunter2-second"})

    report = await changes(config_for(testbed, platform, ns))

    rollouts = [
        c for c in report.data["changes"] if c["kind"] == "rollout" and c["object"] == "deployment/user-service"
    ]
    newest = rollouts[0]
    assert newest["before"]["revision"] == 1 and newest["after"]["revision"] == 2
    assert newest["before"]["user-service"]["image"] == "registry.example/alp/user-service:1.0"
    assert newest["after"]["user-service"]["image"] == "registry.example/alp/user-service:1.5.0"
    assert newest["by"] == "kubectl-set"
    assert "image user-service:1.0 -> 1.5.0" in newest["summary"]
    assert newest["after"]["user-service"]["env"]["DB_PASSWORD"] == "***"
    text = report.to_json()
    assert "hunter2" not in text
    assert {"kind", "object", "at", "before", "after", "by"} <= set(newest)
    # newest first, one line each
    ats = [c["at"] for c in report.data["changes"]]
    assert ats == sorted(ats, reverse=True)
    table = finding(report, "change(s)").evidence[0]
    assert len(table.rows) == len(report.data["changes"])


def test_template_diff_names_env_resources_and_restarts():
    old = {
        "metadata": {"labels": {"app": "a", "pod-template-hash": "1"}},
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "r/a:1",
                    "env": [{"name": "MODE", "value": "x"}, {"name": "API_KEY", "value": "k1"}],
                    "resources": {"limits": {"memory": "1Gi"}},
                }
            ]
        },
    }
    new = json.loads(json.dumps(old))
    new["metadata"]["labels"]["pod-template-hash"] = "2"
    new["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2026-11-29T10:00:00Z"}
    c = new["spec"]["containers"][0]
    c["env"] = [
        {"name": "API_KEY", "value": "k2"},
        {"name": "NEW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
    ]
    c["resources"] = {"limits": {"memory": "2Gi"}}

    before, after, parts = diff_templates(old, new)

    assert "env MODE removed (was x)" in parts
    assert "env API_KEY changed (value masked)" in parts
    assert "env NEW=from secret s/k added" in parts
    assert "limits.memory 1Gi -> 2Gi" in parts
    assert "restarted" in parts
    assert "other pod template fields changed" not in parts  # the hash label is not a change
    assert "k1" not in json.dumps([before, after, parts]) and "k2" not in json.dumps([before, after, parts])


async def test_stuck_and_in_progress_rollouts_are_flagged(testbed, kube_admin, platform, ns):
    # No scheduler or kubelet here: the pods stay Pending, so the rollout cannot finish.
    create_deployment(kube_admin, ns, "ml-service", {}, replicas=1, progress_deadline_seconds=1)
    create_deployment(kube_admin, ns, "auth-service", {}, replicas=1)
    apps = client.AppsV1Api(kube_admin)

    def stuck() -> bool:
        d = apps.read_namespaced_deployment("ml-service", ns)
        return any(c.type == "Progressing" and c.status == "False" for c in d.status.conditions or [])

    wait_until(stuck, timeout=30)
    report = await changes(config_for(testbed, platform, ns))

    ml = finding(report, "deployment/ml-service: rollout stuck")
    assert ml.severity is Severity.WARNING and "ProgressDeadlineExceeded" in ml.detail
    auth = finding(report, "deployment/auth-service: rollout in progress")
    assert auth.severity is Severity.WARNING and "unavailable" in auth.detail
    assert {r["object"]: r["state"] for r in report.data["rollouts"]} == {
        "deployment/ml-service": "stuck",
        "deployment/auth-service": "in progress",
    }


async def test_statefulset_rollout_from_controller_revisions(testbed, kube_admin, platform, ns):
    apps = client.AppsV1Api(kube_admin)
    template = deployment("redis", 6379, ns).spec.template
    apps.create_namespaced_stateful_set(
        ns,
        client.V1StatefulSet(
            metadata=client.V1ObjectMeta(name="redis"),
            spec=client.V1StatefulSetSpec(
                replicas=0,
                service_name="redis",
                selector=client.V1LabelSelector(match_labels={"app": "redis"}),
                template=template,
            ),
        ),
    )
    revisions = lambda: client.AppsV1Api(kube_admin).list_namespaced_controller_revision(ns).items  # noqa: E731
    wait_until(revisions)
    apps.patch_namespaced_stateful_set(
        "redis",
        ns,
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "redis", "resources": {"limits": {"memory": "2Gi"}}}]}}
            }
        },
        field_manager="helm",
    )
    wait_until(lambda: len(revisions()) == 2)

    report = await changes(config_for(testbed, platform, ns), service="redis")

    sts = [c for c in report.data["changes"] if c["object"] == "statefulset/redis"]
    assert "limits.memory 1Gi -> 2Gi" in sts[0]["summary"] and sts[0]["by"] == "helm"
    assert sts[0]["after"]["redis"]["resources"]["limits.memory"] == "2Gi"


def alp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def configmap(api, ns: str, name: str, data: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client.CoreV1Api(api).create_namespaced_config_map(
        ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)
    )


def test_configmap_writes_by_another_manager_and_by_alp_do_set_config(testbed, kube_admin, ns, tmp_path):
    configmap(kube_admin, ns, "auth-config", {"cache_ttl": "60", "fallback_enabled": "false"})
    configmap(kube_admin, ns, "scheduler-config", {"fallback_enabled": "false"})
    client.CoreV1Api(kube_admin).patch_namespaced_config_map(
        "scheduler-config", ns, {"data": {"fallback_enabled": "true"}}, field_manager="kubectl-edit"
    )
    env = {
        **os.environ,
        **testbed,
        "ALP_NAMESPACE": ns,
        "ALP_PLATFORM__INFRA_NAMESPACE": ns,
        "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db",
        "USER": "carol",
    }
    done = alp(env, "do", "set-config", "auth-config", "cache_ttl=120", "--yes")
    assert done.returncode == 0, done.stderr

    out = alp(env, "--json", "changes", "--since", "10m")

    body = json.loads(out.stdout)
    by_object = {}
    for c in body["data"]["changes"]:
        by_object.setdefault(c["object"], []).append(c)
    edit = next(c for c in by_object["configmap/scheduler-config"] if c["by"] == "kubectl-edit")
    assert edit["after"] == {"fallback_enabled": "true"} and edit["before"] is None  # Kubernetes keeps no old values
    ours = by_object["configmap/auth-config"]
    alp_line = next(c for c in ours if c["action"] == "set-config")
    assert alp_line["by"] == "carol (terminal)"
    assert alp_line["before"] == {"cache_ttl": "60"} and alp_line["after"] == {"cache_ttl": "120"}
    assert "cache_ttl 60 -> 120" in alp_line["summary"]
    assert not [c for c in ours if c["by"] == "alp"], "alp's own write is one line, not two"
    assert "each field manager's latest write only" in body["data"]["seen"]["configmaps"]
    text = alp(env, "changes", "--service", "auth-service").stdout
    assert "cache_ttl 60 -> 120" in text and "scheduler-config" not in text


async def test_since_excludes_older_changes(testbed, kube_admin, platform, ns):
    configmap(kube_admin, ns, "auth-config", {"cache_ttl": "60"})
    configmap(kube_admin, ns, "user-service-config", {"lock_timeout": "10s"})
    core = client.CoreV1Api(kube_admin)
    core.patch_namespaced_config_map("auth-config", ns, {"data": {"cache_ttl": "90"}}, field_manager="older-write")
    await asyncio.sleep(4)  # managedFields keep whole seconds: four of them apart
    core.patch_namespaced_config_map(
        "user-service-config", ns, {"data": {"lock_timeout": "5s"}}, field_manager="newer-write"
    )

    cfg = config_for(testbed, platform, ns)
    recent = await changes(cfg, since="3s")
    wider = await changes(cfg, since="1h")

    assert [c["by"] for c in recent.data["changes"] if c["kind"] == "configmap"] == ["newer-write"]
    assert {"older-write", "newer-write"} <= {c["by"] for c in wider.data["changes"]}
    assert "last 3s" in finding(recent, "change(s)").title


def test_audit_records_name_who_asked_in_slack_with_old_and_new_values():
    t0 = datetime.now(UTC)
    params = {"configmap": "auth-config", "values": {"cache_ttl": "120"}}
    rows = [
        {
            "id": 1,
            "at": t0,
            "actor": "U0ALICE",
            "event": "dry-run",
            "action": "set-config",
            "params": params,
            "result": "x",
        },
        {
            "id": 2,
            "at": t0,
            "actor": "U0ALICE",
            "event": "requested",
            "action": "set-config",
            "params": params,
            "result": "request #7",
        },
        {
            "id": 3,
            "at": t0 + timedelta(seconds=5),
            "actor": "U0BOB",
            "event": "outcome",
            "action": "set-config",
            "params": params,
            "result": "done: patched configmap auth-config: cache_ttl=120",
        },
        {
            "id": 4,
            "at": t0 + timedelta(seconds=9),
            "actor": "U0BOB",
            "event": "outcome",
            "action": "add-partitions",
            "params": {"topic": "user.attempts", "partitions": 6},
            "result": "failed: user.attempts: 3 -> 3 partitions",
        },
    ]
    requests = {
        7: {
            "requester": "U0ALICE",
            "confirmed_by": "U0BOB",
            "approver": None,
            "status": "done",
            "preview": {"before": {"cache_ttl": "60"}, "after": {"cache_ttl": "120"}},
            "outcome": {"after": {"cache_ttl": "120"}},
        }
    }

    found = audit_changes(rows, requests, t0 - timedelta(minutes=1))
    later = audit_changes(rows, requests, t0 + timedelta(seconds=7))

    cm = next(c for c in found if c.kind == "configmap")
    assert cm.by == "asked by U0ALICE, confirmed by U0BOB"
    assert (cm.before, cm.after) == ({"cache_ttl": "60"}, {"cache_ttl": "120"})
    assert "cache_ttl 60 -> 120" in cm.summary and cm.object == "configmap/auth-config"
    parts = next(c for c in found if c.kind == "partitions")
    assert parts.object == "topic/user.attempts" and parts.status == "failed" and "[failed]" in parts.summary
    assert [c.kind for c in later] == ["partitions"]


async def test_health_and_critical_reports_carry_the_last_hour_in_one_line(testbed, kube_admin, platform, ns):
    configmap(kube_admin, ns, "auth-config", {"cache_ttl": "60"})
    client.CoreV1Api(kube_admin).patch_namespaced_config_map(
        "auth-config", ns, {"data": {"cache_ttl": "75"}}, field_manager="kubectl-patch"
    )
    cfg = config_for(testbed, platform, ns, postgres_dsn="postgresql://postgres@127.0.0.1:1/x")

    health = await run("health", cfg)
    critical = await run("db-connectivity", cfg)
    quiet = await run("redis", cfg)

    for report in (health, critical):
        line = [f for f in report.findings if f.probe == "changes"]
        assert len(line) == 1 and line[0].severity is Severity.OK
        assert "in the last hour: auth-config written: cache_ttl=75" in line[0].title
    assert critical.severity is Severity.CRITICAL
    assert quiet.severity is not Severity.CRITICAL and not [f for f in quiet.findings if f.probe == "changes"]


async def test_context_lines_are_real_changes_of_the_affected_services(testbed, kube_admin, platform, ns):
    """#29: a creation is not a rollout; an incident's lines are its services' only; later ones say so."""
    create_deployment(kube_admin, ns, "user-service", {"LOG_LEVEL": "info"})  # created now: revision 1
    configmap(kube_admin, ns, "auth-config", {"cache_ttl": "60"})
    opened = datetime.now(UTC)
    await asyncio.sleep(1.1)  # Kubernetes records write times to the second
    client.CoreV1Api(kube_admin).patch_namespaced_config_map(
        "auth-config", ns, {"data": {"cache_ttl": "90"}}, field_manager="kubectl-patch"
    )
    cfg = config_for(testbed, platform, ns)

    health = await run("health", cfg)
    line = next(f for f in health.findings if f.probe == "changes").title
    assert "revision 1" not in line and "user-service" not in line, line

    lines = await incident_change_lines(cfg, opened, services=["auth-service"])
    assert any("cache_ttl=90" in x and "(after it opened)" in x for x in lines), lines
    assert not any("user-service" in x for x in lines), lines


async def test_incident_lines_span_one_hour_before_it_opened(testbed, kube_admin, platform, ns):
    configmap(kube_admin, ns, "auth-config", {"cache_ttl": "60"})
    client.CoreV1Api(kube_admin).patch_namespaced_config_map(
        "auth-config", ns, {"data": {"cache_ttl": "80"}}, field_manager="kubectl-patch"
    )
    cfg = config_for(testbed, platform, ns)

    opened_recently = await incident_change_lines(cfg, datetime.now(UTC))
    opened_two_hours_on = await incident_change_lines(cfg, datetime.now(UTC) + timedelta(hours=2))

    assert any("auth-config written: cache_ttl=80" in line and "(by kubectl-patch)" in line for line in opened_recently)
    assert opened_two_hours_on == ["no changes seen since one hour before it opened"]


def test_change_json_shape():
    c = Change(kind="scale", object="deployment/x", at=datetime.now(UTC), summary="x scaled")
    assert {"kind", "object", "at", "before", "after", "by"} <= set(c.model_dump(mode="json"))


def test_changes_through_slack_name_who_asked_with_old_and_new_values(bot, fake_slack, kube_admin):
    from tests.support.k8s_world import PLATFORM
    from tests.support.signing import block_action
    from tests.support.slack_requests import blocks_text, click, command, confirmation, updated

    core = client.CoreV1Api(kube_admin)
    old = core.read_namespaced_config_map("user-service-config", PLATFORM).data["lock_timeout"]
    new = "7s" if old != "7s" else "8s"
    command(bot, fake_slack, f"do set-config user-service-config lock_timeout={new}", user="U0DAVE")
    msg, buttons = confirmation(fake_slack, f"set-config configmap=user-service-config lock_timeout={new}")
    click(bot, block_action("alp_action_confirm", buttons["alp_action_confirm"], user="U0DAVE"))
    updated(fake_slack, msg, "patched configmap user-service-config")
    try:
        status, _, took = command(bot, fake_slack, "changes --since 30m --service user-service")
        assert status == 200 and took < 3
        final = fake_slack.wait_for("chat.update", lambda c: c.args.get("text", "").startswith("changes: "))
        text = blocks_text(final.args["blocks"])
        assert f"lock_timeout {old} -> {new}" in text and "asked by U0DAVE" in text
        assert "auth-config" not in text  # --service keeps to that service
        assert "What could be seen" in text
    finally:
        core.patch_namespaced_config_map("user-service-config", PLATFORM, {"data": {"lock_timeout": old}})


def test_a_page_carries_the_changes_since_an_hour_before_it_opened(bot, fake_slack, kube_admin):
    from tests.support.k8s_world import PLATFORM
    from tests.support.slack_requests import announced, blocks_text, command

    core = client.CoreV1Api(kube_admin)
    old = core.read_namespaced_config_map("ml-service-config", PLATFORM).data["prediction_timeout"]
    core.patch_namespaced_config_map(
        "ml-service-config", PLATFORM, {"data": {"prediction_timeout": "9s"}}, field_manager="kubectl-edit"
    )
    try:
        command(bot, fake_slack, "incident open P0 predictions timing out")
        _, n = announced(fake_slack, "predictions timing out")
        page = fake_slack.wait_for(
            "chat.postMessage",
            lambda c: "you are paged for" in c.args.get("text", "") and f"INC-{n} " in c.args["text"],
        )
        fields = blocks_text(page.args["blocks"])
        assert "Changes (from 1 h before it opened)" in fields
        assert "ml-service-config written: prediction_timeout=9s" in fields and "kubectl-edit" in fields
        command(bot, fake_slack, f"incident postmortem {n}")
        done = fake_slack.wait_for("upload", lambda c: f"INC-{n}" in c.args.get("content", ""))
        md = done.args["content"]
        section = md.split("## Changes from one hour before it opened")[1].split("##")[0]
        assert "prediction_timeout=9s" in section
    finally:
        core.patch_namespaced_config_map("ml-service-config", PLATFORM, {"data": {"prediction_timeout": old}})


def test_kafka_partition_changes_made_through_alp(testbed, kube_admin, ns, tmp_path, unique):
    from tests.support.kafka import create_topic

    asyncio.run(create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], unique, 2))
    env = {**os.environ, **testbed, "ALP_NAMESPACE": ns, "ALP_STATE_URL": f"sqlite:///{tmp_path}/s.db", "USER": "dan"}
    assert alp(env, "do", "add-partitions", unique, "3", "--yes").returncode == 0

    body = json.loads(alp(env, "--json", "changes", "--since", "5m").stdout)

    [c] = [c for c in body["data"]["changes"] if c["kind"] == "partitions"]
    assert c["object"] == f"topic/{unique}" and c["by"] == "dan (terminal)"
    assert (c["before"], c["after"]) == ({"partitions": 2}, {"partitions": 3})
    assert "partitions 2 -> 3" in c["summary"]


def test_help_lists_both_commands():
    from bot.router import help_text

    text = help_text()
    assert "changes [--since 6h] [--service NAME]" in text and "logs <service> [--grep REGEX]" in text
    assert "--previous" in help_text("logs") and "--since" in help_text("changes")


async def test_scale_changes_with_replicas_before_and_after(testbed, kube_admin, platform, ns):
    create_deployment(kube_admin, ns, "scheduler-service", {})
    core, apps = client.CoreV1Api(kube_admin), client.AppsV1Api(kube_admin)
    apps.patch_namespaced_deployment_scale(
        "scheduler-service", ns, {"spec": {"replicas": 3}}, field_manager="kubectl-scale"
    )
    wait_until(lambda: any("from 0 to 3" in (e.message or "") for e in core.list_namespaced_event(ns).items))

    report = await changes(config_for(testbed, platform, ns))

    [scale] = [c for c in report.data["changes"] if c["kind"] == "scale"]
    assert scale["object"] == "deployment/scheduler-service" and scale["by"] == "kubectl-scale"
    assert (scale["before"], scale["after"]) == ({"replicas": 0}, {"replicas": 3})
    assert "scheduler-service scaled 0 -> 3 replicas" in scale["summary"]


def test_alp_scale_and_restart_are_one_line_each_naming_who(testbed, kube_admin, ns, tmp_path):
    create_deployment(kube_admin, ns, "scheduler-service", {})
    env = {**os.environ, **testbed, "ALP_NAMESPACE": ns, "ALP_STATE_URL": f"sqlite:///{tmp_path}/s.db", "USER": "erin"}
    assert alp(env, "do", "scale", "scheduler-service", "2", "--yes").returncode == 0
    assert alp(env, "do", "restart", "scheduler-service", "--yes").returncode == 0
    core = client.CoreV1Api(kube_admin)
    wait_until(lambda: any("from 0 to 2" in (e.message or "") for e in core.list_namespaced_event(ns).items))
    wait_until(lambda: len(replicasets(kube_admin, ns, "scheduler-service")) == 2)

    body = json.loads(alp(env, "--json", "changes", "--since", "5m").stdout)

    mine = [c for c in body["data"]["changes"] if c["object"] == "deployment/scheduler-service"]
    [scale] = [c for c in mine if c["kind"] == "scale"]
    assert scale["by"] == "erin (terminal)" and (scale["before"], scale["after"]) == ({"replicas": 0}, {"replicas": 2})
    [restart] = [c for c in mine if c["kind"] == "rollout" and c["after"]["revision"] == 2]
    assert restart["by"] == "alp restart, erin (terminal)" and "restarted" in restart["summary"]
    assert not [c for c in mine if c["kind"] == "remediation"]


async def test_an_unreachable_api_server_is_one_unknown_finding_not_an_empty_ok(
    testbed, platform, ns, tmp_path, monkeypatch
):
    import yaml

    from tests.support.processes import free_port

    kubeconfig = tmp_path / "down.kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "down",
                "clusters": [{"name": "down", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
                "users": [{"name": "u", "user": {"token": "x"}}],
                "contexts": [{"name": "down", "context": {"cluster": "down", "user": "u"}}],
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    cfg = config_for(testbed, platform, ns)

    report = await changes(cfg)
    health_line = (await run("health", cfg)).findings

    assert report.severity is Severity.UNKNOWN
    [down] = [f for f in report.findings if f.severity is Severity.UNKNOWN]
    assert "unreachable" in down.detail and "replicasets in" in down.title and "configmap auth-config" in down.title
    assert finding(report, "No changes seen in what could be read").severity is Severity.OK
    [line] = [f for f in health_line if f.probe == "changes"]
    assert "could not read" in line.title and "unreachable" in line.title


def revision_of(api, ns: str, name: str) -> int:  # type: ignore[no-untyped-def]
    d = client.AppsV1Api(api).read_namespaced_deployment(name, ns)
    return int((d.metadata.annotations or {}).get("deployment.kubernetes.io/revision", "0"))


async def test_a_rollback_to_an_earlier_template_is_seen_when_it_happened(testbed, kube_admin, platform, ns):
    """A rollback re-uses the old ReplicaSet (created long before): its new revision is when the
    template was written back, and the revision before it is the one that was really running."""
    create_deployment(kube_admin, ns, "user-service", {"LOG_LEVEL": "info"})
    rolled(kube_admin, ns, "user-service", "registry.example/alp/user-service:1.5.0", {})
    await asyncio.sleep(6)  # managedFields and creation times keep whole seconds
    apps = client.AppsV1Api(kube_admin)
    back = {"name": "user-service", "image": "registry.example/alp/user-service:1.0"}
    apps.patch_namespaced_deployment(
        "user-service", ns, {"spec": {"template": {"spec": {"containers": [back]}}}}, field_manager="rollbacker"
    )
    wait_until(lambda: revision_of(kube_admin, ns, "user-service") == 3)
    await asyncio.sleep(2)
    env = {"name": "user-service", "env": [{"name": "LOG_LEVEL", "value": "debug"}]}  # the image stays rollbacker's
    apps.patch_namespaced_deployment(
        "user-service", ns, {"spec": {"template": {"spec": {"containers": [env]}}}}, field_manager="later"
    )
    wait_until(lambda: revision_of(kube_admin, ns, "user-service") == 4)

    cfg = config_for(testbed, platform, ns)
    recent = await changes(cfg, since="5s", service="user-service")
    wider = await changes(cfg, since="1h", service="user-service")

    rollouts = [c for c in wider.data["changes"] if c["kind"] == "rollout"]
    assert [(c["before"] or {}).get("revision") for c in rollouts] == [3, 2, 1, None]
    assert [c["after"]["revision"] for c in rollouts] == [4, 3, 2, 1]
    newest, rollback, forward = rollouts[:3]
    assert "env LOG_LEVEL info -> debug" in newest["summary"] and newest["by"] == "later"
    assert "image user-service:1.5.0 -> 1.0" in rollback["summary"] and rollback["by"] == "rollbacker"
    assert "image user-service:1.0 -> 1.5.0" in forward["summary"]
    assert rollback["at"] >= forward["at"]
    seen = [c["after"]["revision"] for c in recent.data["changes"] if c["kind"] == "rollout"]
    assert 3 in seen and 4 in seen and 2 not in seen, seen


async def test_a_statefulset_rolled_back_is_seen_when_it_happened(testbed, kube_admin, platform, ns):
    apps = client.AppsV1Api(kube_admin)
    template = deployment("redis", 6379, ns).spec.template
    spec = client.V1StatefulSetSpec(
        replicas=0,
        service_name="redis",
        selector=client.V1LabelSelector(match_labels={"app": "redis"}),
        template=template,
    )
    apps.create_namespaced_stateful_set(ns, client.V1StatefulSet(metadata=client.V1ObjectMeta(name="redis"), spec=spec))
    revisions = lambda: client.AppsV1Api(kube_admin).list_namespaced_controller_revision(ns).items  # noqa: E731
    wait_until(revisions)

    def image(tag: str, manager: str) -> None:
        c = {"name": "redis", "image": f"registry.example/alp/redis:{tag}"}
        apps.patch_namespaced_stateful_set(
            "redis", ns, {"spec": {"template": {"spec": {"containers": [c]}}}}, field_manager=manager
        )

    image("2.0", "helm")
    wait_until(lambda: len(revisions()) == 2)
    await asyncio.sleep(4)
    image("1.0", "helm-rollback")
    wait_until(lambda: max(r.revision for r in revisions()) == 3)

    recent = await changes(config_for(testbed, platform, ns), since="3s", service="redis")

    sts = [c for c in recent.data["changes"] if c["object"] == "statefulset/redis"]
    assert sts and sts[0]["after"]["revision"] == 3, sts
    assert "image redis:2.0 -> 1.0" in sts[0]["summary"] and sts[0]["by"] == "helm-rollback"


async def test_an_unknown_service_is_said_with_the_closest_names_not_an_empty_ok(testbed, kube_admin, platform, ns):
    create_deployment(kube_admin, ns, "user-service", {"LOG_LEVEL": "info"})

    typo = await changes(config_for(testbed, platform, ns), service="user-servce")
    known = await changes(config_for(testbed, platform, ns), service="user-service")

    f = typo.findings[0]
    assert f.severity is Severity.WARNING and "No workload or runbook configmap of user-servce" in f.title
    assert "Did you mean user-service?" in f.detail
    assert typo.data["changes"] == []
    assert known.severity is Severity.OK and known.data["changes"]


def test_env_values_of_secret_names_in_other_shapes_are_masked():
    def template(value: str) -> dict:  # type: ignore[type-arg]
        names = ("MYSQL_PWD", "SLACK_WEBHOOK_URL", "SESSION_COOKIE", "JWT", "DB_PASSWD", "CLIENT_SECRET")
        env = [{"name": n, "value": f"{value}-{n.lower()}"} for n in names]
        return {"spec": {"containers": [{"name": "a", "image": "r/a:1", "env": env}]}}

    before, after, parts = diff_templates(template("old-v4lue"), template("new-v4lue"))

    assert len(parts) == 6 and all("changed (value masked)" in p for p in parts), parts
    assert "v4lue" not in json.dumps([before, after, parts])
