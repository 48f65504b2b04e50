"""`scripts/testbed demo`: the runbook's world on the running test bed, with a few faults an
on-call engineer would recognise. Idempotent: every run puts back the same picture, and renews
the faults that expire (the lock chain).

- Kubernetes (scripts/world/kube.py): the namespaces, the four service deployments and their
  configmaps; pods made by the deployments' controllers (scripts/world/owned_pods.py), bound to
  the registered node: auth-service x2 (slow logins, a few errors, one pod
  near its memory limit), user-service crash-looping (14 restarts, failing progress updates),
  scheduler-service running but not ready, ml-service fine, each with a pod IP (so the
  services' endpoints list them, ready or not); istiod in istio-system; Warning events for the
  two; pod logs behind the kubelet stand-in, pod metrics behind the metrics stand-in.
- Kafka: topic `user.attempts` (3 partitions) and the `user-service` group, memberless and
  behind on every partition (Burrow: STOP).
- PostgreSQL: a lock chain on `user_progress` (one open transaction, two updates waiting),
  held for LOCK_HOLD_S by a background process (scripts/world/lock_chain.py).
- Redis: the statistics reset, then mostly misses (hit ratio about 15%).
- The platform stand-in: every service's /health answers 200 except user-service (503); its
  /metrics, which the bed's Prometheus scrapes, count auth-service's requests at 900 ms, so the
  bed's rule HighResponseTime fires into its Alertmanager (`scripts/run bot --demo` points that at
  the bot: scripts/world/alerting.py).

Prints `export` lines that point alp at the demo's service endpoints; progress goes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from scripts.world import consumer_group
from scripts.world.client import StandIns
from scripts.world.consumer_group import COMMITTED, END_OFFSETS, GROUP, TOPIC
from scripts.world.kube import (
    DEMO_LABEL,
    PLATFORM,
    SERVICES,
    create_world,
    register_metrics_api,
    register_node,
)
from scripts.world.lock_chain import LOCK_APP as LOCK_APP  # the tests name the demo's backends by it
from scripts.world.lock_chain import LOCK_HOLD_S, LOCK_TABLE, reset_statements, seed_lock_chain
from scripts.world.lock_chain import clear_lock_chain as clear_lock_chain
from scripts.world.owned_pods import bring_up

# role -> (app, status of set_status, memory use, cpu use); each pod is named by its Deployment's
# controllers (`auth-service-<hash>-<xxxxx>`), the roles of one app taken by its pods oldest first
PODS: dict[str, tuple[str, dict[str, object], str, str]] = {
    "auth-slow": ("auth-service", {}, "990Mi", "850m"),
    "auth-quick": ("auth-service", {}, "610Mi", "420m"),
    "user-crashing": ("user-service", {"ready": False, "waiting": "CrashLoopBackOff", "restarts": 14}, "120Mi", "5m"),
    "scheduler-not-ready": ("scheduler-service", {"ready": False}, "380Mi", "310m"),
    "ml": ("ml-service", {}, "700Mi", "900m"),
}
ISTIOD = ("istio-system", "istiod", 15010)  # the mesh's control plane, one healthy pod
EVENTS = {
    "user-crashing": ("BackOff", "Back-off restarting failed container user-service"),
    "scheduler-not-ready": (
        "Unhealthy",
        "Readiness probe failed: HTTP probe failed with statuscode: 503",
    ),
}


SLOW_SERVICE = "auth-service"  # the demo's metric fault: its requests slow in the platform stand-in's /metrics
SLOW_TRAFFIC = {"rps": 20.0, "latency_ms": 900.0, "error_ratio": 0.0}


def say(text: str) -> None:
    print(f"demo: {text}", file=sys.stderr, flush=True)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod_logs(now: datetime) -> dict[str, str]:
    """The last few minutes of each demo pod's log (by role), ending at `now`."""

    def at(seconds_ago: float) -> str:
        return _stamp(now - timedelta(seconds=seconds_ago))

    slow = [
        f"{at(240 - 6 * i)} INFO [http] POST /auth/login 200 user=u{1000 + i} response_time={ms}ms"
        for i, ms in enumerate([180, 240, 310, 1650, 2300, 2900, 420, 3400, 2650, 1980, 3100, 2750, 260, 3900, 2400])
    ]
    auth_errors = [
        f"{at(100)} ERROR [db] error acquiring connection: timeout after 30000ms",
        f'{{"ts":"{at(80)}","level":"error","msg":"login failed","error":"connection refused","response_time":3100}}',
        f"{at(60)} WARN login failed for user=u7 ip=203.0.113.7 reason=bad_password",
    ]
    quick = [
        f"{at(230 - 7 * i)} INFO [http] POST /auth/login 200 user=u{2000 + i} response_time={120 + 9 * i}ms"
        for i in range(20)
    ]
    user = [
        f"{at(50)} INFO starting user-service consumer group=user-service topic=user.attempts",
        f"{at(48)} ERROR progress update failed user=u42: could not serialize access due to concurrent update",
        f"{at(47)} ERROR progress update failed user=u43: lock timeout after 10s on user_progress",
        f"{at(46)} FATAL consumer crashed: unhandled error in progress handler, exiting",
    ]
    scheduler = [
        f"{at(200 - 10 * i)} INFO [select] user=u{300 + i} items=20 selection_time={ms}ms"
        for i, ms in enumerate([150, 180, 240, 310, 280, 650, 720, 190, 260, 880])
    ]
    scheduler.append(f"{at(20)} WARN readiness: ml-service prediction call timed out after 5000ms")
    ml = [
        f"{at(220 - 11 * i)} INFO [predict] model=v1.3.0 variant=large prediction_time={ms}ms"
        for i, ms in enumerate([310, 290, 420, 380, 350, 510, 300, 330, 460, 390])
    ]
    return {
        "auth-slow": "\n".join([*slow, *auth_errors]) + "\n",
        "auth-quick": "\n".join(quick) + "\n",
        "user-crashing": "\n".join(user) + "\n",
        "scheduler-not-ready": "\n".join(scheduler) + "\n",
        "ml": "\n".join(ml) + "\n",
    }


# ---------------------------------------------------------------- Kubernetes
def seed_kube(api: client.ApiClient, standins: StandIns) -> None:
    """The world, its services' pods made by their Deployments (scripts/world/owned_pods.py) with
    the demo's faults, their logs, events and metrics."""
    core = client.CoreV1Api(api)
    register_node(api, standins.port)
    counts = {(PLATFORM, app): sum(1 for a, *_ in PODS.values() if a == app) for app in SERVICES}
    create_world(api, {**counts, ISTIOD[:2]: 1})
    for pod in core.list_pod_for_all_namespaces(label_selector=DEMO_LABEL).items:
        if not any(o.controller for o in pod.metadata.owner_references or []):  # an older demo's bare pods
            core.delete_namespaced_pod(pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0)
    names: dict[str, str] = {}  # role -> pod name
    for n, app in enumerate(SERVICES):
        roles = [r for r, (a, *_) in PODS.items() if a == app]
        states = [{**PODS[r][1], "pod_ip": f"10.244.0.{11 + 4 * n + i}"} for i, r in enumerate(roles)]
        names |= dict(
            zip(roles, bring_up(api, PLATFORM, app, SERVICES[app], states, {DEMO_LABEL: "true"}), strict=True)
        )
    namespace, istiod, port = ISTIOD
    bring_up(api, namespace, istiod, port, [{"pod_ip": "10.244.2.11"}], {DEMO_LABEL: "true"})
    for i, name in enumerate(("postgres-0", "redis-0", "kafka-0")):  # healthy: ready endpoints for their services
        ip = f"10.244.1.{11 + i}"
        core.patch_namespaced_pod_status(name, "infrastructure", {"status": {"podIP": ip, "podIPs": [{"ip": ip}]}})
    now = datetime.now(UTC)
    for role, text in pod_logs(now).items():
        standins.logs[(PLATFORM, names[role])] = text
    for role, (reason, message) in EVENTS.items():
        _warning_event(core, names[role], reason, message, now)
    register_metrics_api(api, standins.metrics_port)
    standins.metrics[PLATFORM] = []
    for role, (app, _, memory, cpu) in PODS.items():
        standins.set_pod_metrics(PLATFORM, names[role], cpu=cpu, memory=memory, container=app)
    say(f"pods in {PLATFORM}, made by their deployments: {', '.join(names.values())} (logs, metrics, events)")


def _warning_event(core: client.CoreV1Api, pod: str, reason: str, message: str, now: datetime) -> None:
    name = f"{pod}.demo-{reason.lower()}"
    try:
        core.delete_namespaced_event(name, PLATFORM)
    except ApiException as err:
        if err.status != 404:
            raise
    core.create_namespaced_event(
        PLATFORM,
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=name, labels={DEMO_LABEL: "true"}),
            involved_object=client.V1ObjectReference(kind="Pod", name=pod, namespace=PLATFORM),
            reason=reason,
            message=message,
            type="Warning",
            count=14 if reason == "BackOff" else 6,
            first_timestamp=now - timedelta(minutes=25),
            last_timestamp=now,
            source=client.V1EventSource(component="kubelet", host="alp-fake-node"),
        ),
    )


# ---------------------------------------------------------------- Kafka
def seed_kafka(bootstrap: str, kafka_home: str | None) -> None:
    removed = asyncio.run(consumer_group.seed(bootstrap, kafka_home))
    say(f"kafka: {TOPIC} with group {GROUP} behind by {sum(END_OFFSETS.values()) - sum(COMMITTED.values())} messages")
    if removed:
        say(f"kafka: removed {len(removed)} consumer group(s) without members left by earlier runs (tests, benchmarks)")


# ---------------------------------------------------------------- Redis
def seed_redis(url: str) -> None:
    """Statistics reset, then 30 hits and 170 misses: a hit ratio of 15%."""
    r = redis.Redis.from_url(url)
    try:
        r.config_resetstat()
        for i in range(30):
            r.set(f"user:demo{i}:progress", json.dumps({"item": 42 + i}), ex=3600)
        for i in range(30):
            r.get(f"user:demo{i}:progress")
        for i in range(170):
            r.get(f"scheduler:demo-u{i}")
    finally:
        r.close()
    say("redis: hit ratio 15% (30 hits, 170 misses since the statistics were reset)")


def clear_redis(url: str) -> None:
    """Take the demo's cache fault away: its keys, and the statistics (a 15% hit ratio) reset."""
    r = redis.Redis.from_url(url)
    try:
        keys = list(r.scan_iter("user:demo*:progress", count=1000))
        if keys:
            r.delete(*keys)
        r.config_resetstat()
    finally:
        r.close()


# ---------------------------------------------------------------- the platform's services
def seed_platform(standins: StandIns) -> dict[str, str]:
    """Service /health answers, and the env that points alp at them."""
    for name in SERVICES:
        standins.set_health(name, 503 if name == "user-service" else 200)
    base = standins.platform_base
    services = [{"name": n, "port": p, "url": f"{base}/svc/{n}"} for n, p in SERVICES.items()]
    say("services: /health answers 200, except user-service (503)")
    standins.reset_traffic()
    standins.set_traffic(SLOW_SERVICE, **SLOW_TRAFFIC)
    say(
        f"metrics: {SLOW_SERVICE} answers in {SLOW_TRAFFIC['latency_ms']:g} ms (Prometheus scrapes it): the bed's rule "
        "HighResponseTime (p95 > 500ms) fires within about a minute (`scripts/run bot --demo` shows it reach alp)"
    )
    return {
        "ALP_PLATFORM__SERVICES": json.dumps(services, separators=(",", ":")),
        "ALP_ENDPOINTS__OAUTH_URL": f"{base}/oauth",
        "ALP_ENDPOINTS__MLFLOW_URL": f"{base}/mlflow",
    }


def _run_dir(env: Mapping[str, str]) -> Path:
    return Path(env.get("ALP_TESTBED_RUN") or Path(env["KUBECONFIG"]).parents[1]) / "demo"


def seed(env: dict[str, str]) -> dict[str, str]:
    """The whole demo on the test bed named by `env` (`scripts/testbed env`); the env for alp,
    also kept in the demo's directory for `seeded`."""
    standins = StandIns.from_env(env)
    cfg = client.Configuration()
    config.load_kube_config(config_file=env["KUBECONFIG"], client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        seed_kube(api, standins)
    seed_kafka(env["ALP_KAFKA_BOOTSTRAP"], env.get("ALP_KAFKA_HOME"))
    run_dir = _run_dir(env)
    reset_statements(env["ALP_POSTGRES_DSN"])
    seed_lock_chain(env["ALP_POSTGRES_DSN"], run_dir)
    say(f"postgres: a lock chain on {LOCK_TABLE} for {LOCK_HOLD_S // 60} minutes (re-run demo to renew it)")
    seed_redis(env["ALP_REDIS_URL"])
    exports = seed_platform(standins)
    saved = {"platform_port": env.get("ALP_TESTBED_PLATFORM_PORT", ""), "exports": exports}
    (run_dir / "exports.json").write_text(json.dumps(saved))
    return exports


def seeded(env: dict[str, str]) -> dict[str, str] | None:
    """The env for alp of the demo already on the test bed, or None when it is not there (never
    seeded, taken away by the tests, or its stand-ins restarted empty by `scripts/testbed up`).
    Its faults may have been remedied or expired since: that is the point of not seeding again."""
    try:
        saved = json.loads((_run_dir(env) / "exports.json").read_text())
    except (OSError, ValueError):
        return None
    if saved.get("platform_port") != env.get("ALP_TESTBED_PLATFORM_PORT", ""):
        return None
    cfg = client.Configuration()
    config.load_kube_config(config_file=env["KUBECONFIG"], client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        pods = client.CoreV1Api(api).list_namespaced_pod(PLATFORM, label_selector=DEMO_LABEL).items
    names = {(PLATFORM, p.metadata.name) for p in pods if not p.metadata.deletion_timestamp}
    if len(names) != len(PODS) or not names <= set(StandIns.from_env(env).logs):
        return None
    return dict(saved["exports"])


def main() -> None:
    """`scripts/testbed demo [--if-needed]`: seed (with --if-needed, only when `seeded` finds no demo)."""
    # aiokafka logs the coordinator lookups it retries on a fresh broker as errors (real failures raise), like bot/cli.py.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    env = dict(os.environ)
    exports = seeded(env) if sys.argv[1:2] == ["--if-needed"] else None
    if exports is None:
        exports = seed(env)
    else:
        say("the demo is already seeded, as the last run left it (`scripts/testbed demo` seeds it afresh)")
    for key, value in exports.items():
        print(f"export {key}='{value}'")
    say("ready: alp health · alp check kafka-lag · alp check deadlocks · alp check redis · alp check auth-latency")


if __name__ == "__main__":
    main()
