"""The scenario catalogue: for every check target a real fault, a healthy state and a blind state.

Each scenario is data: the target, a setup that arranges the test bed's real servers (lock
chains, Redis traffic, pods and their logs through the fake kubelet, bad passwords) and
returns the configuration to check with, and what the report must say. A new scenario is one
entry in SCENARIOS. kafka-lag has its own catalogue (tests/integration/test_kafka_lag.py, issue #12).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from kubernetes import client

from commands.config import ChecksConfig
from commands.report import Severity
from tests.support.checks_env import CLOSED
from tests.support.k8s_world import make_pod
from tests.support.scenario_world import (
    FAST,
    QUIET,
    SERVICES,
    SLOW,
    World,
    caught_up_group,
    ensure_topic,
    istiod_pod,
    jwt_secret,
    lock_chain,
    redis_traffic,
    redis_with_outliers,
    service_with_endpoints,
)

Setup = Callable[[World], Awaitable[ChecksConfig]]


@dataclass(frozen=True)
class Scenario:
    """`target` checked after `setup`: the report's severity, a phrase of its headline, and the
    actions suggested on its worst finding (exactly these when given)."""

    target: str
    state: str  # fault | healthy | blind
    setup: Setup
    severity: Severity
    headline: str = ""
    actions: frozenset[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: bool = False  # needs the metrics API (metrics_api fixture)
    variant: str = ""  # a second (third…) scenario of the same target and state (issue #25's variants)

    @property
    def id(self) -> str:
        return f"{self.target}-{self.state}" + (f"-{self.variant}" if self.variant else "")


# ---------------------------------------------------------------------- setups by target
async def health_fault(w: World) -> ChecksConfig:
    await ensure_topic(w)
    w.platform.health["user-service"] = 503
    w.undo.append(w.platform.health.clear)
    return w.cfg()


async def health_slow_answers(w: World) -> ChecksConfig:
    """Every service's /health answers after 2 s, past a 0.5 s probe limit: no answer in time is
    the finding of an availability probe (while evidence probes running out would be UNKNOWN)."""
    await ensure_topic(w)
    w.platform.delay_s = 2.0
    w.undo.append(lambda: setattr(w.platform, "delay_s", 0.0))
    cfg = w.cfg()
    cfg.timeouts.probe_s = 0.5
    return cfg


async def health_ok(w: World) -> ChecksConfig:
    await ensure_topic(w)
    w.pod("auth-service")
    return w.cfg()


async def health_blind(w: World) -> ChecksConfig:
    await ensure_topic(w)
    return w.cfg(postgres_dsn=w.bad_pg(), redis_url=w.bad_redis())


async def auth_fault(w: World) -> ChecksConfig:
    w.pod("auth-service", QUIET, ready=False, restarts=7, waiting="CrashLoopBackOff")
    jwt_secret(w)
    return w.cfg()


async def auth_ok(w: World) -> ChecksConfig:
    w.pod("auth-service", FAST)
    jwt_secret(w)
    return w.cfg()


async def auth_blind(w: World) -> ChecksConfig:
    jwt_secret(w)  # the secret must exist: its absence is a fault (auth-fault-no-secret)
    return w.cfg()  # no pods, no logs


def logs_of(app: str, logs: str, cfg_over: Callable[[World], dict[str, Any]] | None = None) -> Setup:
    async def setup(w: World) -> ChecksConfig:
        w.pod(app, logs)
        return w.cfg(**(cfg_over(w) if cfg_over else {}))

    return setup


async def nothing(w: World) -> ChecksConfig:
    return w.cfg()


async def progress_fault(w: World) -> ChecksConfig:
    cfg = await caught_up_group(w)
    w.pod("user-service", "2026-11-28T03:00:01Z ERROR progress update failed user=u2: kafka publish timeout\n")
    return cfg


async def progress_ok(w: World) -> ChecksConfig:
    cfg = await caught_up_group(w)
    w.pod("user-service", "2026-11-28T03:00:00Z INFO progress saved user=u1 item=42\n")
    return cfg


async def progress_blind(w: World) -> ChecksConfig:
    return await caught_up_group(w)  # no user-service pods: its logs cannot be read


async def deadlocks_fault(w: World) -> ChecksConfig:
    await lock_chain(w)
    return w.cfg()


async def pg_blind(w: World) -> ChecksConfig:
    return w.cfg(postgres_dsn=w.bad_pg())


async def db_load_fault(w: World) -> ChecksConfig:
    conn = await w.pg()

    async def slow() -> None:
        await conn.execute(f"SELECT pg_sleep(0.25) AS {w.unique}")

    w.loop(slow)
    cfg = w.cfg()
    cfg.thresholds.response_time_warn_ms = 200
    return cfg


async def db_load_no_grant_slow(w: World) -> ChecksConfig:
    """A 0.25 s statement repeating as postgres, checked as a role without pg_read_all_stats."""
    cfg = await db_load_fault(w)
    cfg.postgres_dsn = await w.limited_role()
    return cfg


async def db_load_no_grant(w: World) -> ChecksConfig:
    return w.cfg(postgres_dsn=await w.limited_role())


async def deadlocks_no_grant(w: World) -> ChecksConfig:
    """A lock chain of postgres's backends, seen by a role without pg_monitor: states read NULL."""
    await lock_chain(w)
    return w.cfg(postgres_dsn=await w.limited_role())


async def db_load_rollbacks(w: World) -> ChecksConfig:
    """A client whose every transaction rolls back (a retry loop failing a constraint)."""
    conn = await w.pg()

    async def rollback() -> None:
        async with conn.transaction(force_rollback=True):
            await conn.execute("SELECT 1")

    w.loop(rollback)
    cfg = w.cfg()
    cfg.thresholds.rate_window_s = 2.5  # backends flush pg_stat_database counters at most once a second
    return cfg


async def db_load_temp_spill(w: World) -> ChecksConfig:
    """Sorts larger than work_mem, spilled to temp files over and over."""
    conn = await w.pg()
    await conn.execute("SET work_mem = '64kB'")

    async def spill() -> None:
        await conn.execute("SELECT count(*) FROM (SELECT g FROM generate_series(1, 100000) g ORDER BY g DESC) s")

    w.loop(spill)
    cfg = w.cfg()
    cfg.thresholds.rate_window_s = 2.5  # backends flush pg_stat_database counters at most once a second
    return cfg


async def db_conn_fault(w: World) -> ChecksConfig:
    service_with_endpoints(w, "postgres", None)
    w.pod("postgres", ready=False, waiting="CrashLoopBackOff", restarts=4)
    return w.cfg(postgres_dsn=f"postgresql://postgres:pw@{CLOSED}/adaptive_learning")


async def db_conn_ok(w: World) -> ChecksConfig:
    service_with_endpoints(w, "postgres", "10.244.0.15")
    return w.cfg()


async def db_conn_blind(w: World) -> ChecksConfig:
    return w.cfg(postgres_dsn=w.bad_pg())  # no service, no pods, refused login


async def redis_fault(w: World) -> ChecksConfig:
    redis_traffic(w, hit=False)
    return w.cfg()


async def redis_ok(w: World) -> ChecksConfig:
    redis_traffic(w, hit=True)
    return w.cfg()


async def redis_expiry_storm(w: World) -> ChecksConfig:
    """Every key expires before it is read again: each lookup misses an expired key."""
    r = aioredis.from_url(w.testbed["ALP_REDIS_URL"], decode_responses=True)
    w.undo.append(r.aclose)

    async def step() -> None:
        await r.set(f"user:{w.unique}", "1", px=1)
        await asyncio.sleep(0.003)
        await r.get(f"user:{w.unique}")

    w.loop(step)
    return w.cfg()


async def redis_latency_outliers(w: World) -> ChecksConfig:
    """A healthy cache whose every 5th PING comes back 100 ms late (mean 20 ms, median well under 1)."""
    redis_traffic(w, hit=True)
    return w.cfg(redis_url=await redis_with_outliers(w))


async def redis_quiet(w: World) -> ChecksConfig:
    return w.cfg()  # no lookups in the window: nothing to judge the hit ratio on


async def redis_blind(w: World) -> ChecksConfig:
    return w.cfg(redis_url=w.bad_redis())


async def network_fault(w: World) -> ChecksConfig:
    istiod_pod(w)
    service_with_endpoints(w, "user-service", None)
    return w.cfg()


async def network_ok(w: World) -> ChecksConfig:
    istiod_pod(w)
    service_with_endpoints(w, "user-service", "10.244.0.16")
    return w.cfg()


async def network_deny_all(w: World) -> ChecksConfig:
    istiod_pod(w)
    service_with_endpoints(w, "user-service", "10.244.0.16")
    client.NetworkingV1Api(w.kube).create_namespaced_network_policy(
        w.ns,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="deny-all"),
            spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(), policy_types=["Ingress"]),
        ),
    )
    return w.cfg()


async def network_blind(w: World) -> ChecksConfig:
    istiod_pod(w)
    return w.cfg()  # no services in the namespace


async def external_fault(w: World) -> ChecksConfig:
    cfg = w.cfg()
    cfg.endpoints.oauth_url = "https://auth.alp-test.invalid"
    return cfg


async def external_503(w: World) -> ChecksConfig:
    """The provider answers, with HTTP 503: reachable, and failing."""
    w.platform.health["oauth-provider"] = 503
    w.undo.append(w.platform.health.clear)
    cfg = w.cfg()
    cfg.endpoints.oauth_url = f"{w.platform.base}/svc/oauth-provider/health"
    return cfg


async def external_blind(w: World) -> ChecksConfig:
    cfg = w.cfg()
    cfg.endpoints.oauth_url = "auth0.com"
    return cfg


async def latency_fault(w: World) -> ChecksConfig:
    for app in SERVICES:
        w.pod(app, SLOW if app == "auth-service" else FAST)
    return w.cfg()


async def latency_ok(w: World) -> ChecksConfig:
    for app in SERVICES:
        w.ready_deployment(app, FAST)
    for pod in client.CoreV1Api(w.kube).list_namespaced_pod(w.ns).items:
        w.kubelet.set_pod_metrics(
            w.ns, pod.metadata.name, cpu="100m", memory="200Mi", container=pod.spec.containers[0].name
        )
    return w.cfg()


async def memory_fault(w: World) -> ChecksConfig:
    w.all_services(QUIET)
    w.pod("user-service-b", QUIET, oom=True, restarts=3)
    return w.cfg()


async def memory_ok(w: World) -> ChecksConfig:
    w.all_services(QUIET)
    for app in SERVICES:
        w.kubelet.set_pod_metrics(w.ns, f"{app}-1", cpu="100m", memory="200Mi")
    return w.cfg()


async def memory_blind(w: World) -> ChecksConfig:
    w.all_services(QUIET)
    return w.cfg()  # pods, but no metrics API to measure them


def container_metrics(w: World, pod: str, usage: dict[str, str]) -> None:
    """`kubectl top pod --containers` for one pod: container -> memory in use."""
    items = [m for m in w.kubelet.metrics[w.ns] if m["metadata"]["name"] != pod]
    items.append(
        {
            "metadata": {"name": pod, "namespace": w.ns},
            "timestamp": "2026-11-28T03:00:00Z",
            "window": "30s",
            "containers": [{"name": c, "usage": {"cpu": "50m", "memory": m}} for c, m in usage.items()],
        }
    )
    w.kubelet.metrics[w.ns] = items


def services_measured(w: World, logs: str) -> None:
    """Every service one pod, logging `logs`, measured well within its memory limit."""
    w.all_services(logs)
    for app in SERVICES:
        w.kubelet.set_pod_metrics(w.ns, f"{app}-1", cpu="100m", memory="200Mi")


OOM_LINE = "2026-11-28T03:00:05Z ERROR java.lang.OutOfMemoryError: Java heap space\n"


async def memory_sidecar_logs(w: World) -> ChecksConfig:
    """A second user-service pod with an Istio-style proxy beside the app: the kubelet refuses a
    log read that names no container; its app logs OutOfMemoryError."""
    services_measured(w, QUIET)
    pod = "user-service-2"
    make_pod(w.kube, w.ns, pod, "user-service", sidecars={"istio-proxy": "256Mi"})
    w.kubelet.logs[(w.ns, f"{pod}/app")] = OOM_LINE
    w.kubelet.logs[(w.ns, f"{pod}/istio-proxy")] = QUIET
    container_metrics(w, pod, {"app": "200Mi", "istio-proxy": "60Mi"})
    return w.cfg()


async def memory_sidecar_limit(w: World) -> ChecksConfig:
    """The sidecar at 96 % of its own 256Mi limit, the app at 10 % of 1Gi (35 % of the sum)."""
    services_measured(w, QUIET)
    pod = "user-service-2"
    make_pod(w.kube, w.ns, pod, "user-service", sidecars={"istio-proxy": "256Mi"})
    w.kubelet.logs[(w.ns, pod)] = QUIET
    container_metrics(w, pod, {"app": "100Mi", "istio-proxy": "246Mi"})
    return w.cfg()


async def memory_previous(w: World) -> ChecksConfig:
    """A container that restarted (its status no longer says why): the OutOfMemoryError is in the
    previous instance's log only (`kubectl logs --previous`)."""
    services_measured(w, QUIET)
    pod = "user-service-2"
    make_pod(w.kube, w.ns, pod, "user-service", restarts=1)
    w.kubelet.logs[(w.ns, pod)] = QUIET
    w.kubelet.previous_logs[(w.ns, pod)] = OOM_LINE
    container_metrics(w, pod, {"app": "200Mi"})
    return w.cfg()


async def memory_gc_info(w: World) -> ChecksConfig:
    services_measured(w, "2026-11-28T03:00:00Z INFO gc pause 4ms heap 610MB/1024MB memory ok\n")
    return w.cfg()


def failed_logins(good: int, bad: dict[str, int]) -> str:
    ok = [f"2026-11-28T03:00:00Z INFO login ok user=u{i} ip=203.0.113.{i % 200 + 1}" for i in range(good)]
    failed = [
        f"2026-11-28T03:00:01Z WARN login failed user=x{n} ip={ip}: wrong password"
        for ip, count in bad.items()
        for n in range(count)
    ]
    return "\n".join(ok + failed) + "\n"


def security_with_auth(auth_logs: str) -> Setup:
    async def setup(w: World) -> ChecksConfig:
        w.pod("falco", QUIET, namespace="falco-system")
        w.pod("kong-gateway", QUIET, namespace="kong")
        w.pod("auth-service", auth_logs)
        return w.cfg()

    return setup


async def auth_no_secret(w: World) -> ChecksConfig:
    w.pod("auth-service", FAST)  # running, ready, quiet: only the secret is gone
    return w.cfg()


PREDICTION_TIMEOUTS = "".join(
    f"2026-11-28T03:00:{i:02d}Z WARN prediction for user=u{i} timed out after 5000ms\n" for i in range(40)
)


async def healthy_with_short_probe_limit(w: World) -> ChecksConfig:
    """A healthy world checked with a probe limit no busy host meets: alp not seeing, not a fault."""
    cfg = await memory_ok(w)
    cfg.timeouts.probe_s = 0.001
    return cfg


async def kafka_transactional(w: World) -> ChecksConfig:
    """A group that read and committed everything a transactional producer wrote: its committed
    offset is one below the log end, where the last commit marker sits."""
    from tests.support.kafka import commit, create_topic, produce_transactions

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    read_all = await produce_transactions(boot, w.unique, 3, 5)
    await commit(boot, w.unique, w.unique, {0: read_all})
    return w.cfg()


async def kafka_transactional_live(w: World) -> ChecksConfig:
    """A live read_committed consumer keeping up with a transactional producer, committing the
    offset after each record it processed (the marker after it stays "behind" it)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    from tests.support.kafka import create_topic

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    producer = AIOKafkaProducer(bootstrap_servers=boot, transactional_id=f"alp-test-{w.unique}")
    consumer = AIOKafkaConsumer(
        w.unique,
        bootstrap_servers=boot,
        group_id=w.unique,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()
    w.undo += [producer.stop, consumer.stop]

    async def produce() -> None:
        async with producer.transaction():
            for _ in range(3):
                await producer.send(w.unique, b"attempt", partition=0)
        await asyncio.sleep(0.25)

    async def consume() -> None:
        got = await consumer.getmany(timeout_ms=50)
        last = max((r.offset for records in got.values() for r in records), default=None)
        if last is not None:
            await consumer.commit({TopicPartition(w.unique, 0): last + 1})

    w.loop(produce)
    w.loop(consume)
    for _ in range(100):  # until it has joined, read and committed
        await asyncio.sleep(0.1)
        if await consumer.committed(TopicPartition(w.unique, 0)):
            break
    return w.cfg()


async def kafka_no_offsets(w: World) -> ChecksConfig:
    """A live group whose member is assigned nothing (its subscription matches no topic) and that
    never committed: it exists, and there is no lag to measure."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=w.testbed["ALP_KAFKA_BOOTSTRAP"], group_id=w.unique)
    await consumer.start()
    w.undo.append(consumer.stop)
    consumer.subscribe(pattern=f"^nothing-matches-{w.unique}$")
    await consumer.getmany(timeout_ms=1500)  # joins the group
    return w.cfg()


async def kafka_stale_topic(w: World) -> ChecksConfig:
    """A healthy live group that still holds committed offsets on a topic it no longer subscribes
    to (what `kafka-consumer-groups --describe` shows with no consumer assigned)."""
    from aiokafka import AIOKafkaConsumer

    from tests.support.kafka import commit, create_topic, produce

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    old, new = f"{w.unique}_old", f"{w.unique}_new"
    for topic in (old, new):
        await create_topic(boot, topic, 1)
    await produce(boot, old, {0: 20})
    await commit(boot, w.unique, old, {0: 5})  # left behind when the service moved to the new topic
    await produce(boot, new, {0: 3})
    consumer = AIOKafkaConsumer(
        new, bootstrap_servers=boot, group_id=w.unique, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    w.undo.append(consumer.stop)
    seen = 0
    for _ in range(100):
        seen += sum(len(r) for r in (await consumer.getmany(timeout_ms=200)).values())
        if seen >= 3:
            break
    await consumer.commit()

    async def keep_polling() -> None:  # a live consumer keeps fetching (and so stays in the group)
        await consumer.getmany(timeout_ms=100)

    w.loop(keep_polling)
    cfg = w.cfg()
    cfg.kafka_lag.stall_window_s = 0.2  # what the shared history would show: the old offset never moves
    return cfg


async def kafka_sampling_past_check_limit(w: World) -> ChecksConfig:
    """The report's own advice (--samples N --interval S) asks for more time than the check limit."""
    cfg = await caught_up_group(w)
    cfg.timeouts.check_s = 1.0
    return cfg


FALCO_ALERT = "03:00:00.1: Warning Suspicious shell spawned (user=root command=sh connection=198.51.100.23:4444)\n"


async def security_fault(w: World) -> ChecksConfig:
    w.pod("falco", FALCO_ALERT, namespace="falco-system")
    w.pod("kong-gateway", QUIET, namespace="kong")
    w.pod("auth-service", QUIET)
    return w.cfg()


async def security_ok(w: World) -> ChecksConfig:
    w.pod("falco", QUIET, namespace="falco-system")
    w.pod("kong-gateway", QUIET, namespace="kong")
    w.pod("auth-service", QUIET)
    return w.cfg()


async def security_blind(w: World) -> ChecksConfig:
    w.pod("falco", "", namespace="falco-system")  # a pod that logged nothing
    w.pod("kong-gateway", QUIET, namespace="kong")
    return w.cfg()  # and no auth-service pods


S, C, W, U, OK = Scenario, Severity.CRITICAL, Severity.WARNING, Severity.UNKNOWN, Severity.OK
NONE: frozenset[str] = frozenset()

SCENARIOS: list[Scenario] = [
    S("health", "fault", health_fault, C, "user-service /health failing", NONE),
    S("health", "healthy", health_ok, OK),
    S("health", "blind", health_blind, U, "cannot log in to"),
    S("health", "fault", health_slow_answers, C, "/health failing", NONE, variant="slow-answers"),
    S("auth", "fault", auth_fault, C, "auth-service: 1 of 1 pod(s) not running/ready", frozenset({"restart"})),
    S("auth", "healthy", auth_ok, OK),
    S("auth", "blind", auth_blind, U),
    S("auth", "fault", auth_no_secret, C, "jwt-signing-key is missing", NONE, variant="no-secret"),
    S(
        "auth-latency",
        "fault",
        logs_of("auth-service", SLOW),
        C,
        "auth-service response_time: p95",
        frozenset({"scale", "set-config", "reindex"}),
    ),
    S("auth-latency", "healthy", logs_of("auth-service", FAST), OK),
    S("auth-latency", "blind", logs_of("auth-service", ""), U, "nothing to judge"),
    S("progress", "fault", progress_fault, W, "1 failing progress update(s)", frozenset({"restart"})),
    S("progress", "healthy", progress_ok, OK),
    S("progress", "blind", progress_blind, U, "user-service: no pods found"),
    S("deadlocks", "fault", deadlocks_fault, C, "root blocker pid", frozenset({"terminate-queries"})),
    S("deadlocks", "healthy", nothing, OK),
    S("deadlocks", "blind", pg_blind, U, "The bot cannot log in to PostgreSQL as postgres"),
    S(
        "scheduler",
        "fault",
        logs_of("scheduler-service", "INFO selected selection_time=1.5s\n" * 5),
        C,
        "selection_time: p95 1500ms",
        frozenset({"scale", "warm-cache", "set-config"}),
    ),
    S("scheduler", "healthy", logs_of("scheduler-service", "INFO selected selection_time: 42ms\n"), OK),
    S("scheduler", "blind", nothing, U, "scheduler-service: no pods found"),
    S(
        "algorithm",
        "fault",
        logs_of("scheduler-service", "ERROR SM2 interval calculation failed: ease factor NaN\n"),
        W,
        "1 algorithm line(s)",
        frozenset({"rollback"}),
    ),
    S("algorithm", "healthy", logs_of("scheduler-service", QUIET), OK),
    S(
        "algorithm",
        "healthy",
        logs_of("scheduler-service", "2026-11-28T03:00:00Z INFO SM2 interval computed user=u1 next=3d\n"),
        OK,
        variant="info",
    ),
    S("algorithm", "blind", nothing, U, "scheduler-service: no pods found"),
    S(
        "ml",
        "fault",
        logs_of("ml-service", "ERROR failed loading model v1.3.0: CUDA out of memory\n"),
        C,
        "1 model loading failure(s)",
        frozenset({"restart", "rollback", "scale"}),
    ),
    S("ml", "healthy", logs_of("ml-service", "INFO loaded model v1.3.0 in 2.1s\n"), OK),
    S("ml", "blind", nothing, U, "ml-service: no pods found"),
    S(
        "predictions",
        "fault",
        logs_of("ml-service", "\n".join(f'{{"msg":"predicted","prediction_time":{v}}}' for v in (300, 5200, 7000))),
        C,
        "prediction_time: p95",
        frozenset({"set-config", "rollback"}),
    ),
    S("predictions", "healthy", logs_of("ml-service", '{"msg":"predicted","prediction_time":120}\n'), OK),
    S("predictions", "blind", logs_of("ml-service", QUIET), U, "no prediction_time values"),
    S(
        "predictions",
        "fault",
        logs_of("ml-service", PREDICTION_TIMEOUTS),
        C,
        "prediction_time: p95 5000ms",
        frozenset({"set-config", "rollback"}),
        variant="timeouts",
    ),
    S("db-load", "fault", db_load_fault, W, "Slowest statement over", NONE),
    S("db-load", "healthy", nothing, OK),
    S("db-load", "blind", pg_blind, U, "The bot cannot log in to PostgreSQL as postgres"),
    S("db-load", "fault", db_load_no_grant_slow, W, "Slowest statement over", NONE, variant="no-grant"),
    S("db-load", "blind", db_load_no_grant, U, "lacks pg_read_all_stats", variant="no-grant"),
    S("db-load", "fault", db_load_rollbacks, W, "rollbacks against", NONE, variant="rollbacks"),
    S("db-load", "fault", db_load_temp_spill, W, "temp file(s)", NONE, variant="temp-spill"),
    S(
        "deadlocks",
        "fault",
        deadlocks_no_grant,
        C,
        "root blocker pid",
        frozenset({"terminate-queries"}),
        variant="no-grant",
    ),
    S("db-connectivity", "fault", db_conn_fault, C, "", None),
    S("db-connectivity", "healthy", db_conn_ok, OK),
    S("db-connectivity", "blind", db_conn_blind, U),
    S("redis", "fault", redis_fault, C, "Redis hit ratio 0.", frozenset({"warm-cache"})),
    S("redis", "healthy", redis_ok, OK),
    S("redis", "blind", redis_blind, U, "The bot cannot log in to Redis as nobody"),
    S("redis", "blind", redis_quiet, U, "too little traffic to judge", variant="quiet"),
    S("redis", "healthy", redis_latency_outliers, OK, variant="latency-outliers"),
    S("redis", "fault", redis_expiry_storm, C, "keys expire before they are read", NONE, variant="expiry"),
    S("network", "fault", network_fault, C, "service(s) with no ready endpoint: user-service", NONE),
    S("network", "healthy", network_ok, OK),
    S("network", "blind", network_blind, U, "No services (endpoints)"),
    S("network", "fault", network_deny_all, C, "denies all ingress to every pod", NONE, variant="deny-all"),
    S("external", "fault", external_fault, C, "does not resolve", frozenset({"set-config"})),
    S("external", "healthy", nothing, OK),
    S("external", "blind", external_blind, U, "not an http(s) URL"),
    S("external", "fault", external_503, C, "answers HTTP 503", frozenset({"set-config"}), variant="http-503"),
    S("latency", "fault", latency_fault, C, "auth-service response_time", frozenset({"scale", "set-resources"})),
    S("latency", "healthy", latency_ok, OK, metrics=True),
    S("latency", "blind", nothing, U),
    S("memory", "fault", memory_fault, C, "restarted after OOMKilled", NONE),
    S("memory", "healthy", memory_ok, OK, metrics=True),
    S("memory", "blind", memory_blind, U, "metrics-server not installed"),
    S("memory", "fault", memory_sidecar_logs, W, "memory/leak/gc line(s)", NONE, metrics=True, variant="sidecar-logs"),
    S(
        "memory",
        "fault",
        memory_sidecar_limit,
        W,
        "istio-proxy",
        frozenset({"restart"}),
        metrics=True,
        variant="sidecar-limit",
    ),
    S("memory", "fault", memory_previous, W, "memory/leak/gc line(s)", NONE, metrics=True, variant="previous"),
    S("memory", "healthy", memory_gc_info, OK, metrics=True, variant="gc-info"),
    S("memory", "blind", healthy_with_short_probe_limit, U, metrics=True, variant="probe-deadline"),
    S("security", "fault", security_fault, C, "1 Falco alert(s)", frozenset({"block-ips", "rate-limit"})),
    S("security", "healthy", security_ok, OK),
    S("security", "blind", security_blind, U, "falco: 0 log lines"),
    # kafka-lag's own catalogue is tests/test_kafka_lag.py; issue #25's variants are here
    S("kafka-lag", "healthy", kafka_transactional, OK, params={"group": "{unique}"}, variant="transactional"),
    S(
        "kafka-lag",
        "blind",
        kafka_no_offsets,
        U,
        "has no committed offsets",
        params={"group": "{unique}"},
        variant="no-offsets",
    ),
    S("kafka-lag", "healthy", kafka_stale_topic, OK, params={"group": "{unique}"}, variant="stale-topic"),
    S(
        "kafka-lag",
        "healthy",
        kafka_transactional_live,
        OK,
        params={"group": "{unique}", "samples": 4, "interval": 0.4},
        variant="transactional-live",
    ),
    S(
        "kafka-lag",
        "healthy",
        kafka_sampling_past_check_limit,
        OK,
        params={"group": "{unique}", "samples": 3, "interval": 0.6},
        variant="sampling-deadline",
    ),
    S(
        "security",
        "healthy",
        security_with_auth(failed_logins(500, {"198.51.100.7": 1, "198.51.100.8": 1, "198.51.100.9": 1})),
        OK,
        variant="typos",
    ),
    S(
        "security",
        "fault",
        security_with_auth(failed_logins(100, {"198.51.100.66": 40, "198.51.100.8": 1})),
        W,
        "failed/suspicious/blocked line(s)",
        frozenset({"block-ips", "rate-limit"}),
        variant="brute-force",
    ),
]
