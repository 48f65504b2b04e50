"""The scenario catalogue: for every check target a real fault, a healthy state and a blind state.

Each scenario is data: the target, a setup that arranges the test bed's real servers (lock
chains, Redis traffic, pods and their logs through the fake kubelet, bad passwords) and
returns the configuration to check with, and what the report must say. A new scenario is one
entry in SCENARIOS. kafka-lag has its own catalogue (tests/integration/test_kafka_lag.py, issue #12); issue #25's variants
(a second scenario of a target and state, named by `variant`) are set up in scenario_variants.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client

from commands.config import ChecksConfig
from commands.report import Severity
from tests.support.checks_env import CLOSED
from tests.support.scenario_variants import (
    FALCO_CRITICAL_JSON,
    FALCO_ERROR_TEXT,
    FALCO_STARTUP,
    FATAL_WITHOUT_ERROR,
    KLOG_ERRORS,
    KONG_429_IPV6,
    ONE_ERROR_IN_10000,
    PINO_FATAL,
    PREDICTION_TIMEOUTS,
    SYSLOG_ERRORS,
    UNCAUGHT_TRACEBACKS,
    auth_emptied_secret,
    auth_empty_secret,
    auth_evicted_disk,
    auth_init_crash,
    auth_latency_no_config,
    auth_no_config,
    auth_no_secret,
    auth_old_restarts,
    auth_with_logs,
    db_load_no_grant,
    db_load_no_grant_slow,
    db_load_rollbacks,
    db_load_temp_spill,
    deadlocks_no_grant,
    external_503,
    failed_logins,
    health_evicted_replaced,
    health_slow_answers,
    healthy_with_short_probe_limit,
    kafka_abandoned_group,
    kafka_aborted,
    kafka_aborted_then_waiting,
    kafka_missing_group,
    kafka_no_offsets,
    kafka_sampling_past_check_limit,
    kafka_stale_topic,
    kafka_transactional,
    kafka_transactional_live,
    memory_gc_info,
    memory_istio_proxy_high,
    memory_no_limits,
    memory_old_oom,
    memory_oom_sidecar,
    memory_previous,
    memory_sidecar_limit,
    memory_sidecar_logs,
    memory_some_unlimited,
    network_deny_all,
    network_deny_all_egress,
    network_deny_egress_then_allow_dns,
    network_isolate_then_allow,
    network_isolates_by_expression,
    network_isolates_user_service,
    redis_evicting,
    redis_expiry_storm,
    redis_latency_outliers,
    redis_no_info,
    redis_no_scan,
    redis_quiet,
    scheduler_init_error,
    security_with_auth,
    security_with_falco,
    security_with_kong,
)
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
    absent: tuple[str, ...] = ()  # phrases no finding (title, detail, evidence) may hold
    present: tuple[str, ...] = ()  # phrases some finding (title, detail, evidence) must hold
    ok: tuple[str, ...] = ()  # probes whose findings must all be OK (one blindness limits only its own)

    @property
    def id(self) -> str:
        return f"{self.target}-{self.state}" + (f"-{self.variant}" if self.variant else "")


# ---------------------------------------------------------------------- setups by target
async def health_fault(w: World) -> ChecksConfig:
    await ensure_topic(w)
    w.platform.health["user-service"] = 503
    w.undo.append(w.platform.health.clear)
    return w.cfg()


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


async def network_blind(w: World) -> ChecksConfig:
    istiod_pod(w)
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
    S("health", "fault", health_slow_answers, C, "/health failing", NONE, variant="slow-answers"),
    S("auth", "fault", auth_fault, C, "not running/ready (1 of 1 pods)", frozenset({"restart"})),
    S("auth", "healthy", auth_ok, OK),
    S("auth", "blind", auth_blind, U),
    S("auth", "fault", auth_no_secret, C, "jwt-signing-key is missing", NONE, variant="no-secret"),
    S(
        "auth-latency",
        "fault",
        logs_of("auth-service", SLOW),
        C,
        "auth-service response_time: p95",
        frozenset({"scale", "set-config"}),  # no REINDEX users: no slow users statement is shown (#29)
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
        frozenset({"scale", "warm-cache"}),  # no ML fallback: the same report says ml-service answers (#29)
    ),
    S("scheduler", "healthy", logs_of("scheduler-service", "INFO selected selection_time: 42ms\n"), OK),
    S("scheduler", "blind", nothing, U, "scheduler-service: no pods found"),
    S(
        "scheduler",
        "fault",
        logs_of(
            "scheduler-service",
            "".join(
                f"2026-11-28T03:00:{i:02d}Z WARN selection for user=u{i} timed out after 3000ms\n" for i in range(10)
            ),
        ),
        C,
        "selection_time: p95 3000ms",
        frozenset({"scale", "warm-cache"}),  # no ML fallback while ml-service answers (#29)
        variant="timeouts",
    ),
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
    # the fresh tester's round-3 misses, the truth written first
    S(
        "auth",
        "fault",
        auth_with_logs(FATAL_WITHOUT_ERROR),
        C,
        "line(s) at ERROR or above",
        NONE,
        variant="fatal-words",
    ),
    S("auth", "healthy", auth_with_logs(ONE_ERROR_IN_10000, tail_lines=10_000), OK, variant="rare-error"),
    S("auth", "fault", auth_empty_secret, C, "jwt-signing-key holds no data", NONE, variant="empty-secret"),
    S("auth", "fault", auth_emptied_secret, C, "holds no data", NONE, variant="emptied-secret"),
    S("auth", "fault", auth_no_config, W, "configmap auth-config is missing", NONE, variant="no-config"),
    S("kafka-lag", "healthy", kafka_aborted, OK, params={"group": "{unique}"}, variant="aborted"),
    S(
        "auth",
        "fault",
        auth_init_crash,
        C,
        "init container db-migrate",
        NONE,  # the app container never ran: restarting it cannot help
        absent=("action='restart'",),  # on no finding
        present=(
            "[auth-service-{unique}/db-migrate] 2026-11-28T03:00:00Z migration 0042 failed",
            "db-migrate (previous)",
        ),
        variant="init-crash",
    ),
    S(
        "memory",
        "fault",
        memory_oom_sidecar,
        C,
        "log-shipper",
        NONE,
        metrics=True,
        absent=("sidecar.istio.io", "injected by", "injected at"),
        present=(
            "log-shipper (sidecar): deployment user-service's template could not be read",
        ),  # no mesh injected anything here
        variant="oom-sidecar",
    ),
    S(
        "redis",
        "blind",
        redis_no_info,
        U,
        "may not run INFO",
        ok=("keys", "latency"),
        variant="no-info-acl",
    ),
    S("redis", "blind", redis_no_scan, U, "may not run SCAN", ok=("stats", "latency"), variant="no-scan-acl"),
    S(
        "kafka-lag",
        "fault",
        kafka_aborted_then_waiting,
        C,
        "STOP, lag 2",
        params={"group": "{unique}"},
        variant="aborted-then-waiting",
    ),
    S(
        "scheduler",
        "fault",
        scheduler_init_error,
        C,
        "init container wait-for-redis Error",
        NONE,
        absent=("action='restart'",),
        present=("[scheduler-service-{unique}/wait-for-redis] redis:6379 not reachable after 30s",),
        variant="init-error",
    ),
    S(
        "memory",
        "fault",
        memory_istio_proxy_high,
        W,
        "user-service-2/istio-proxy (sidecar)",
        frozenset({"restart"}),
        metrics=True,
        present=("istio-proxy (sidecar) was injected by Istio", "sidecar.istio.io/proxyMemoryLimit"),
        variant="istio-proxy",
    ),
    S(
        "auth-latency",
        "fault",
        auth_latency_no_config,
        W,
        "configmap auth-config is missing",
        NONE,
        variant="no-config",
    ),
    # own variants of kinds not yet in the catalogue, the truth written first
    S(
        "security",
        "fault",
        security_with_falco(FALCO_STARTUP + FALCO_CRITICAL_JSON),
        C,
        "1 Falco alert(s)",
        NONE,  # first written as block-ips + rate-limit: the alert names no address, Kong can stop nothing here
        variant="falco-priority",
    ),
    S("security", "healthy", security_with_falco(FALCO_STARTUP), OK, variant="falco-startup"),
    S(
        "network",
        "fault",
        network_deny_all_egress,
        C,
        "denies all egress from every pod",
        NONE,
        variant="deny-all-egress",
    ),
    S(
        "auth",
        "fault",
        auth_with_logs(UNCAUGHT_TRACEBACKS),
        W,  # first written as CRITICAL on a miscount: 3 of 32 lines is 9.4 %, under log_error_ratio_crit
        "3 line(s) at ERROR or above",
        NONE,
        variant="uncaught-traceback",
    ),
    # the unseen second examples of the own kinds
    S(
        "security",
        "fault",
        security_with_falco(FALCO_STARTUP + FALCO_ERROR_TEXT),
        C,
        "1 Falco alert(s)",
        NONE,
        variant="falco-text-priority",
    ),
    S("network", "healthy", network_deny_egress_then_allow_dns, OK, variant="deny-egress-then-allow"),
    S(
        "health",
        "fault",
        health_evicted_replaced,
        W,  # history, not an outage: the replacement serves; the node's memory pressure is worth a look
        "evicted",
        NONE,  # nothing to restart: the replacement runs
        present=("The node was low on resource: memory",),
        variant="evicted-replaced",
    ),
    S(
        "auth",
        "fault",
        auth_evicted_disk,
        W,
        "1 pod(s) evicted",
        NONE,
        present=("ephemeral-storage",),
        variant="evicted-disk",
    ),
    S("memory", "blind", memory_no_limits, U, "no memory limit", metrics=True, variant="no-limits"),
    S(
        "memory",
        "healthy",
        memory_some_unlimited,
        OK,
        metrics=True,
        present=("Memory of 1 container(s) within limits (3 more with no limit, not judged)",),
        variant="some-unlimited",
    ),
    # the fresh tester's round-4 misses, the truth written first
    S("auth", "fault", auth_with_logs(KLOG_ERRORS), C, "4 line(s) at ERROR or above", NONE, variant="klog"),
    S(
        "security",
        "fault",
        security_with_auth(failed_logins(100, {"2001:db8::66": 40})),
        W,
        "failed/suspicious/blocked line(s)",
        frozenset({"block-ips", "rate-limit"}),
        present=("'ips': '2001:db8::66'",),
        variant="ipv6-brute-force",
    ),
    S(
        "auth",
        "healthy",
        auth_old_restarts,
        OK,
        absent=("action='restart'",),
        present=("12 restart(s), the last 3 d ago; none in the last 1h: history, not judged",),
        variant="old-restarts",
    ),
    S(
        "network",
        "fault",
        network_isolates_user_service,
        W,
        "isolate-user-service denies all ingress to user-service",
        NONE,
        variant="isolates-one",
    ),
    S(
        "kafka-lag",
        "blind",
        kafka_missing_group,
        U,
        "No consumer group named no-such-group",
        params={"group": "no-such-group-{unique}"},
        variant="missing-group",
    ),
    # the unseen second examples (written after the fix)
    S("auth", "fault", auth_with_logs(PINO_FATAL), W, "1 FATAL/panic/critical", NONE, variant="pino-fatal"),
    S("auth", "fault", auth_with_logs(SYSLOG_ERRORS), C, "4 line(s) at ERROR or above", NONE, variant="syslog"),
    S(
        "security",
        "fault",
        security_with_kong(KONG_429_IPV6),
        W,
        "15 rate-limit line(s)",
        frozenset({"block-ips", "rate-limit"}),
        present=("'ips': '2606:4700:10::6814:1'",),
        variant="kong-ipv6",
    ),
    S(
        "kafka-lag",
        "blind",
        caught_up_group,
        U,
        "No consumer group named {unique}-v2",
        params={"group": "{unique}-v2"},
        present=("Did you mean {unique}",),
        variant="mistyped-group",
    ),
    S("memory", "healthy", memory_old_oom, OK, metrics=True, variant="old-oom"),
    S(
        "network",
        "fault",
        network_isolates_by_expression,
        W,
        "lock-scheduler denies all ingress to scheduler-service",
        NONE,
        absent=("allow-user denies",),
        variant="isolates-by-expression",
    ),
    S("network", "healthy", network_isolate_then_allow, OK, variant="isolate-then-allow"),
    S(
        "kafka-lag",
        "fault",
        kafka_abandoned_group,
        C,
        "STOP, lag 50",
        frozenset({"restart", "reset-offsets"}),
        params={"group": "{unique}"},
        absent=("1 of 1 consumer groups",),  # the group's own finding states it; once
        variant="stopped-once",
    ),
    S(
        "redis",
        "fault",
        redis_evicting,
        W,
        "of maxmemory",  # README: evicting at maxmemory leads with memory
        frozenset({"set-resources"}),
        present=("CONFIG SET maxmemory",),  # Redis's own limit binds, not the container's
        variant="evicting",
    ),
]
