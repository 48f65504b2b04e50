"""The scenario catalogue: for every check target a real fault, a healthy state and a blind state.

Each scenario is data: the target, a setup that arranges the test bed's real servers (lock
chains, Redis traffic, pods and their logs through the fake kubelet, bad passwords) and
returns the configuration to check with, and what the report must say. A new scenario is one
entry in SCENARIOS. kafka-lag has its own catalogue (tests/test_kafka_lag.py, issue #12).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import redis.asyncio as aioredis
from kubernetes import client
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from commands.config import ChecksConfig
from commands.report import Severity
from tests.checks_env import CLOSED, config_for
from tests.k8s_world import NODE, deployment, make_pod

SERVICES = ("auth-service", "user-service", "scheduler-service", "ml-service")


@dataclass
class World:
    """What a setup may arrange, and what to undo afterwards."""

    testbed: dict[str, str]
    kube: Any
    kubelet: Any
    platform: Any
    ns: str
    unique: str
    undo: list[Callable[[], Any]] = field(default_factory=list)
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    conns: list[psycopg.AsyncConnection[Any]] = field(default_factory=list)
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def cfg(self, **over: Any) -> ChecksConfig:
        cfg = config_for(self.testbed, self.platform, self.ns, **over)
        cfg.thresholds.rate_window_s = 0.8
        cfg.thresholds.redis_min_lookups = 20
        return cfg

    def pod(self, app: str, logs: str | None = None, namespace: str | None = None, **kw: Any) -> str:
        namespace = namespace or self.ns
        name = f"{app}-{self.unique}" if namespace != self.ns else f"{app}-1"
        make_pod(self.kube, namespace, name, app, **kw)
        if namespace != self.ns:
            self.undo.append(
                lambda: client.CoreV1Api(self.kube).delete_namespaced_pod(name, namespace, grace_period_seconds=0)
            )
        if logs is not None:
            self.kubelet.logs[(namespace, name)] = logs
        return name

    def all_services(self, logs: str, **kw: Any) -> None:
        for app in SERVICES:
            self.pod(app, logs, **kw)

    def ready_deployment(self, app: str, logs: str) -> None:
        """A deployment whose one pod is bound to the fake node and reported ready, so its
        ReplicaSet and the deployment count it ready, as with a real kubelet."""
        apps, core = client.AppsV1Api(self.kube), client.CoreV1Api(self.kube)
        dep = deployment(app, 8080, self.ns, replicas=1)
        dep.spec.template.spec.node_name = NODE
        apps.create_namespaced_deployment(self.ns, dep)
        self.undo.append(lambda: self._scale_down(app))
        pods = wait(lambda: core.list_namespaced_pod(self.ns, label_selector=f"app={app}").items)
        name = pods[0].metadata.name
        self.kubelet.logs[(self.ns, name)] = logs
        core.patch_namespaced_pod_status(
            name,
            self.ns,
            {
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {
                            "name": app,
                            "image": "x",
                            "imageID": "",
                            "ready": True,
                            "restartCount": 0,
                            "state": {"running": {"startedAt": "2026-11-28T01:00:00Z"}},
                        }
                    ],
                }
            },
        )
        wait(lambda: (apps.read_namespaced_deployment(app, self.ns).status.ready_replicas or 0) >= 1)

    def _scale_down(self, app: str) -> None:
        """Scale to 0, then force-delete its pods (no kubelet confirms a graceful delete)."""
        apps, core = client.AppsV1Api(self.kube), client.CoreV1Api(self.kube)
        apps.patch_namespaced_deployment_scale(app, self.ns, {"spec": {"replicas": 0}})
        wait(lambda: not (apps.read_namespaced_deployment(app, self.ns).status.replicas or 0), timeout=10)
        for pod in core.list_namespaced_pod(self.ns, label_selector=f"app={app}").items:
            core.delete_namespaced_pod(pod.metadata.name, self.ns, grace_period_seconds=0)

    def bad_pg(self) -> str:
        info = conninfo_to_dict(self.testbed["ALP_POSTGRES_DSN"])
        info["password"] = "not-the-password"
        return make_conninfo(**info)

    def bad_redis(self) -> str:
        return self.testbed["ALP_REDIS_URL"].replace("redis://", "redis://nobody:wrong@")

    async def pg(self) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(self.testbed["ALP_POSTGRES_DSN"], autocommit=True)
        self.conns.append(conn)
        return conn

    def loop(self, step: Callable[[], Awaitable[Any]]) -> None:
        """Run `step` over and over in the background until the scenario ends (real traffic)."""

        async def until_closed() -> None:
            while not self.closing.is_set():
                await step()
                await asyncio.sleep(0.002)

        self.tasks.append(asyncio.create_task(until_closed()))

    async def close(self) -> None:
        self.closing.set()
        for c in self.conns:  # ends lock holders first, so their waiters finish
            with contextlib.suppress(Exception):
                await c.close()
        for t in self.tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(t, 5)
        for c in self.conns:
            with contextlib.suppress(Exception):
                await c.close()
        for fn in reversed(self.undo):
            with contextlib.suppress(Exception):
                result = fn()
                if asyncio.iscoroutine(result):
                    await result


def wait(pred: Callable[[], Any], timeout: float = 20) -> Any:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


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

    @property
    def id(self) -> str:
        return f"{self.target}-{self.state}"


# ---------------------------------------------------------------------- log lines
QUIET = "2026-11-28T03:00:00Z INFO request ok\n"
FAST = "\n".join(f"2026-11-28T03:00:{i:02d}Z INFO GET /x 200 response_time={40 + i}ms" for i in range(20))
SLOW = "\n".join(f"2026-11-28T03:00:{i:02d}Z INFO GET /x 200 response_time={2500 + 10 * i}ms" for i in range(20))


async def _topic(w: World) -> None:
    from tests.kafka_helpers import create_topic

    with contextlib.suppress(Exception):
        await create_topic(w.testbed["ALP_KAFKA_BOOTSTRAP"], "user.attempts", 3)


async def _caught_up_group(w: World) -> ChecksConfig:
    from tests.kafka_helpers import commit, create_topic, produce

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    await produce(boot, w.unique, {0: 3})
    await commit(boot, w.unique, w.unique, {0: 3})
    cfg = w.cfg()
    cfg.platform.consumer_groups = {w.unique: "user-service"}
    return cfg


async def _lock_chain(w: World, waiters: int = 3) -> None:
    """A real row-lock chain: a holder idle in transaction, `waiters` UPDATEs queued behind it."""
    admin = await w.pg()
    await admin.execute(f"CREATE TABLE {w.unique} (id int primary key, v int)")
    await admin.execute(f"INSERT INTO {w.unique} VALUES (1, 0)")
    w.undo.append(lambda: _drop(w, w.unique))
    holder = await w.pg()
    await holder.execute("SET application_name = 'billing-batch'")
    await holder.execute("BEGIN")
    await holder.execute(f"UPDATE {w.unique} SET v = 1 WHERE id = 1")
    for i in range(waiters):
        conn = await w.pg()
        w.tasks.append(asyncio.create_task(conn.execute(f"UPDATE {w.unique} SET v = {i + 2} WHERE id = 1")))
    await asyncio.sleep(0.6)


async def _drop(w: World, table: str) -> None:
    async with await psycopg.AsyncConnection.connect(w.testbed["ALP_POSTGRES_DSN"], autocommit=True) as c:
        await c.execute(f"DROP TABLE IF EXISTS {table}")


def _redis_traffic(w: World, hit: bool) -> None:
    r = aioredis.from_url(w.testbed["ALP_REDIS_URL"], decode_responses=True)
    w.undo.append(r.aclose)

    async def step() -> None:
        await r.set(f"user:{w.unique}", "1")
        await r.get(f"user:{w.unique}" if hit else f"user:{w.unique}:missing")

    w.loop(step)


def _service(w: World, name: str, ready_pod_ip: str | None) -> None:
    core = client.CoreV1Api(w.kube)
    core.create_namespaced_service(
        w.ns,
        client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(selector={"app": name}, ports=[client.V1ServicePort(port=5432)]),
        ),
    )
    if ready_pod_ip:
        make_pod(w.kube, w.ns, f"{name}-0", name, pod_ip=ready_pod_ip)

    def settled() -> bool:
        eps = [e for e in core.list_namespaced_endpoints(w.ns).items if e.metadata.name == name]
        has = bool(eps) and any(s.addresses for s in eps[0].subsets or [])
        return bool(eps) and has == bool(ready_pod_ip)

    wait(settled)


def _istiod(w: World) -> None:
    w.pod("istiod", QUIET, namespace="istio-system")


def _secret(w: World) -> None:
    client.CoreV1Api(w.kube).create_namespaced_secret(
        w.ns, client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"key": "k"})
    )


# ---------------------------------------------------------------------- setups by target
async def health_fault(w: World) -> ChecksConfig:
    await _topic(w)
    w.platform.health["user-service"] = 503
    w.undo.append(w.platform.health.clear)
    return w.cfg()


async def health_ok(w: World) -> ChecksConfig:
    await _topic(w)
    w.pod("auth-service")
    return w.cfg()


async def health_blind(w: World) -> ChecksConfig:
    await _topic(w)
    return w.cfg(postgres_dsn=w.bad_pg(), redis_url=w.bad_redis())


async def auth_fault(w: World) -> ChecksConfig:
    w.pod("auth-service", QUIET, ready=False, restarts=7, waiting="CrashLoopBackOff")
    _secret(w)
    return w.cfg()


async def auth_ok(w: World) -> ChecksConfig:
    w.pod("auth-service", FAST)
    _secret(w)
    return w.cfg()


async def auth_blind(w: World) -> ChecksConfig:
    return w.cfg()  # no pods, no logs, no secret


def logs_of(app: str, logs: str, cfg_over: Callable[[World], dict[str, Any]] | None = None) -> Setup:
    async def setup(w: World) -> ChecksConfig:
        w.pod(app, logs)
        return w.cfg(**(cfg_over(w) if cfg_over else {}))

    return setup


async def nothing(w: World) -> ChecksConfig:
    return w.cfg()


async def progress_fault(w: World) -> ChecksConfig:
    cfg = await _caught_up_group(w)
    w.pod("user-service", "2026-11-28T03:00:01Z ERROR progress update failed user=u2: kafka publish timeout\n")
    return cfg


async def progress_ok(w: World) -> ChecksConfig:
    cfg = await _caught_up_group(w)
    w.pod("user-service", "2026-11-28T03:00:00Z INFO progress saved user=u1 item=42\n")
    return cfg


async def progress_blind(w: World) -> ChecksConfig:
    return await _caught_up_group(w)  # no user-service pods: its logs cannot be read


async def deadlocks_fault(w: World) -> ChecksConfig:
    await _lock_chain(w)
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


async def db_conn_fault(w: World) -> ChecksConfig:
    _service(w, "postgres", None)
    w.pod("postgres", ready=False, waiting="CrashLoopBackOff", restarts=4)
    return w.cfg(postgres_dsn=f"postgresql://postgres:pw@{CLOSED}/adaptive_learning")


async def db_conn_ok(w: World) -> ChecksConfig:
    _service(w, "postgres", "10.244.0.15")
    return w.cfg()


async def db_conn_blind(w: World) -> ChecksConfig:
    return w.cfg(postgres_dsn=w.bad_pg())  # no service, no pods, refused login


async def redis_fault(w: World) -> ChecksConfig:
    _redis_traffic(w, hit=False)
    return w.cfg()


async def redis_ok(w: World) -> ChecksConfig:
    _redis_traffic(w, hit=True)
    return w.cfg()


async def redis_blind(w: World) -> ChecksConfig:
    return w.cfg(redis_url=w.bad_redis())


async def network_fault(w: World) -> ChecksConfig:
    _istiod(w)
    _service(w, "user-service", None)
    return w.cfg()


async def network_ok(w: World) -> ChecksConfig:
    _istiod(w)
    _service(w, "user-service", "10.244.0.16")
    return w.cfg()


async def network_blind(w: World) -> ChecksConfig:
    _istiod(w)
    return w.cfg()  # no services in the namespace


async def external_fault(w: World) -> ChecksConfig:
    cfg = w.cfg()
    cfg.endpoints.oauth_url = "https://auth.alp-test.invalid"
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
    S("auth", "fault", auth_fault, C, "auth-service: 1 of 1 pod(s) not running/ready", frozenset({"restart"})),
    S("auth", "healthy", auth_ok, OK),
    S("auth", "blind", auth_blind, U),
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
    S("db-load", "fault", db_load_fault, W, "Slowest statement over", NONE),
    S("db-load", "healthy", nothing, OK),
    S("db-load", "blind", pg_blind, U, "The bot cannot log in to PostgreSQL as postgres"),
    S("db-connectivity", "fault", db_conn_fault, C, "", None),
    S("db-connectivity", "healthy", db_conn_ok, OK),
    S("db-connectivity", "blind", db_conn_blind, U),
    S("redis", "fault", redis_fault, C, "Redis hit ratio 0.0%", frozenset({"warm-cache"})),
    S("redis", "healthy", redis_ok, OK),
    S("redis", "blind", redis_blind, U, "The bot cannot log in to Redis as nobody"),
    S("network", "fault", network_fault, C, "service(s) with no ready endpoint: user-service", NONE),
    S("network", "healthy", network_ok, OK),
    S("network", "blind", network_blind, U, "No services (endpoints)"),
    S("external", "fault", external_fault, C, "does not resolve", frozenset({"set-config"})),
    S("external", "healthy", nothing, OK),
    S("external", "blind", external_blind, U, "not an http(s) URL"),
    S("latency", "fault", latency_fault, C, "auth-service response_time", frozenset({"scale", "set-resources"})),
    S("latency", "healthy", latency_ok, OK, metrics=True),
    S("latency", "blind", nothing, U),
    S("memory", "fault", memory_fault, C, "restarted after OOMKilled", NONE),
    S("memory", "healthy", memory_ok, OK, metrics=True),
    S("memory", "blind", memory_blind, U, "metrics-server not installed"),
    S("security", "fault", security_fault, C, "1 Falco alert(s)", frozenset({"block-ips", "rate-limit"})),
    S("security", "healthy", security_ok, OK),
    S("security", "blind", security_blind, U, "falco: 0 log lines"),
]
