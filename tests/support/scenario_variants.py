"""Issue #25's variants of the scenario catalogue (tests/support/scenarios.py lists them): the
kinds of wrong verdicts seen on real servers, each as a world to arrange (a role without
pg_read_all_stats, a sidecar, a transactional producer, a key-expiry storm, …)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from kubernetes import client

from commands.config import ChecksConfig
from tests.support.k8s_world import NODE, make_pod
from tests.support.scenario_world import (
    FAST,
    QUIET,
    SERVICES,
    World,
    caught_up_group,
    ensure_topic,
    istiod_pod,
    lock_chain,
    redis_traffic,
    redis_with_outliers,
    service_with_endpoints,
)

Setup = Callable[[World], Awaitable[ChecksConfig]]


async def health_slow_answers(w: World) -> ChecksConfig:
    """Every service's /health answers after 2 s, past a 0.5 s probe limit: no answer in time is
    the finding of an availability probe (while evidence probes running out would be UNKNOWN)."""
    await ensure_topic(w)
    w.platform.delay_s = 2.0
    w.undo.append(lambda: setattr(w.platform, "delay_s", 0.0))
    cfg = w.cfg()
    cfg.timeouts.probe_s = 0.5
    return cfg


async def db_load_no_grant_slow(w: World) -> ChecksConfig:
    """A 0.25 s statement repeating as postgres, checked as a role without pg_read_all_stats."""
    conn = await w.pg()

    async def slow() -> None:
        await conn.execute(f"SELECT pg_sleep(0.25) AS {w.unique}")

    w.loop(slow)
    cfg = w.cfg(postgres_dsn=await w.limited_role())
    cfg.thresholds.response_time_warn_ms = 200
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


async def external_503(w: World) -> ChecksConfig:
    """The provider answers, with HTTP 503: reachable, and failing."""
    w.platform.health["oauth-provider"] = 503
    w.undo.append(w.platform.health.clear)
    cfg = w.cfg()
    cfg.endpoints.oauth_url = f"{w.platform.base}/svc/oauth-provider/health"
    return cfg


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
    services_measured(w, QUIET)
    cfg = w.cfg()
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


# ---------------------------------------------------------------------- the fresh tester's misses (round 3)
def lines(body: list[str]) -> str:
    return "\n".join(body) + "\n"


FATAL_WITHOUT_ERROR = lines(
    [f"2026-11-28T03:00:{i:02d}Z INFO POST /login 200 response_time=45ms" for i in range(27)]
    + [
        "2026-11-28T03:00:30Z FATAL cannot bind :3001: address already in use",
        "panic: runtime: nil pointer dereference in TokenSigner.Sign",
        '{"ts":"2026-11-28T03:00:31Z","level":"critical","msg":"token signer unavailable"}',
    ]
)


def auth_with_logs(logs: str, tail_lines: int | None = None) -> Setup:
    """auth-service running and ready with `logs`; the secret and the runbook's config present."""

    async def setup(w: World) -> ChecksConfig:
        from tests.support.scenario_world import jwt_secret

        w.pod("auth-service", logs)
        jwt_secret(w)
        cfg = w.cfg()
        if tail_lines:
            cfg.logs.tail_lines = tail_lines
        return cfg

    return setup


ONE_ERROR_IN_10000 = lines(
    [
        "2026-11-28T03:00:00Z ERROR login user=u77: upstream reset, retried"
        if i == 5000
        else f"2026-11-28T03:00:00Z INFO POST /login 200 user=u{i}"
        for i in range(10_000)
    ]
)


async def auth_empty_secret(w: World) -> ChecksConfig:
    """The jwt-signing-key secret exists with no data at all (a sync that wrote nothing)."""
    w.pod("auth-service", FAST)
    client.CoreV1Api(w.kube).create_namespaced_secret(
        w.ns, client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-signing-key"))
    )
    return w.cfg()


async def auth_no_config(w: World) -> ChecksConfig:
    """Everything healthy but auth-config, the configmap the runbook's login section patches, is gone."""
    from tests.support.scenario_world import jwt_secret

    w.pod("auth-service", FAST)
    jwt_secret(w)
    client.CoreV1Api(w.kube).delete_namespaced_config_map("auth-config", w.ns)
    return w.cfg()


async def kafka_aborted(w: World) -> ChecksConfig:
    """A group that committed everything committed; after it, a transaction that aborted: its
    records (and marker) sit past the committed offset, and a read_committed consumer reads none."""
    from aiokafka import AIOKafkaProducer

    from tests.support.kafka import commit, create_topic, produce_transactions

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    read_all = await produce_transactions(boot, w.unique, 2, 3)
    await commit(boot, w.unique, w.unique, {0: read_all})
    producer = AIOKafkaProducer(bootstrap_servers=boot, transactional_id=f"alp-test-{w.unique}-abort")
    await producer.start()
    try:
        await producer.begin_transaction()
        for _ in range(5):
            await (await producer.send(w.unique, b"attempt", partition=0))
        await producer.abort_transaction()
    finally:
        await producer.stop()
    return w.cfg()


def init_crash_pod(w: World, app: str, init: str, log: str, previous: bool = True) -> str:
    """A pod of `app` stuck in its init phase: init container `init` crash-looping (its log and
    its previous instance's say why), the app container waiting in PodInitializing."""
    name = f"{app}-{w.unique}"
    core = client.CoreV1Api(w.kube)
    core.create_namespaced_pod(
        w.ns,
        client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": app}),
            spec=client.V1PodSpec(
                node_name=NODE,
                init_containers=[client.V1Container(name=init, image=f"{init}:1")],
                containers=[client.V1Container(name="app", image=f"{app}:1")],
            ),
        ),
    )
    core.patch_namespaced_pod_status(
        name,
        w.ns,
        {
            "status": {
                "phase": "Pending",
                "conditions": [
                    {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized"},
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
                ],
                "initContainerStatuses": [
                    {
                        "name": init,
                        "image": f"{init}:1",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 6,
                        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
                        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
                    }
                ],
                "containerStatuses": [
                    {
                        "name": "app",
                        "image": f"{app}:1",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}},
                    }
                ],
            }
        },
    )
    w.kubelet.logs[(w.ns, f"{name}/app")] = ""
    w.kubelet.logs[(w.ns, f"{name}/{init}")] = log
    if previous:
        w.kubelet.previous_logs[(w.ns, f"{name}/{init}")] = log
    return name


async def auth_init_crash(w: World) -> ChecksConfig:
    """auth-service's migration init container fails: the app never starts (a restart cannot help)."""
    from tests.support.scenario_world import jwt_secret

    init_crash_pod(w, "auth-service", "db-migrate", "2026-11-28T03:00:00Z migration 0042 failed: relation exists\n")
    jwt_secret(w)
    return w.cfg()


def minutes_ago(minutes: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60 * minutes))


async def memory_oom_sidecar(w: World) -> ChecksConfig:
    """A pod of three containers (app, a log shipper, Istio's proxy): the log shipper was
    OOMKilled. No mesh advice fits it, and no deployment template was read."""
    services_measured(w, QUIET)
    pod = "user-service-2"
    make_pod(w.kube, w.ns, pod, "user-service", sidecars={"log-shipper": "64Mi", "istio-proxy": "256Mi"})
    client.CoreV1Api(w.kube).patch_namespaced_pod_status(
        pod,
        w.ns,
        {
            "status": {
                "containerStatuses": [
                    {
                        "name": n,
                        "image": f"{n}:1",
                        "imageID": "",
                        "ready": True,
                        "restartCount": r,
                        "state": {"running": {"startedAt": minutes_ago(5) if r else "2026-11-28T01:00:00Z"}},
                        # killed a few minutes ago: an OOM kill older than the restart window is history
                        "lastState": {
                            "terminated": {"reason": "OOMKilled", "exitCode": 137, "finishedAt": minutes_ago(5)}
                        }
                        if r
                        else {},
                    }
                    for n, r in (("app", 0), ("log-shipper", 4), ("istio-proxy", 0))
                ]
            }
        },
    )
    w.kubelet.logs[(w.ns, pod)] = QUIET
    container_metrics(w, pod, {"app": "200Mi", "log-shipper": "62Mi", "istio-proxy": "60Mi"})
    return w.cfg()


async def redis_no_info(w: World) -> ChecksConfig:
    """A Redis user that may read keys and PING but not run INFO: the hit ratio cannot be seen;
    PING and SCAN still can."""
    r = aioredis.from_url(w.testbed["ALP_REDIS_URL"], decode_responses=True)
    user = f"alp_noinfo_{w.unique}"
    await r.execute_command("ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "-info")
    w.undo += [lambda: r.execute_command("ACL", "DELUSER", user), r.aclose]
    return w.cfg(redis_url=w.testbed["ALP_REDIS_URL"].replace("redis://", f"redis://{user}:pw@"))


async def auth_emptied_secret(w: World) -> ChecksConfig:
    """Second example of "metadata only": a secret created with its key, then replaced without
    any data by another writer (a sync job that lost its source)."""
    core = client.CoreV1Api(w.kube)
    w.pod("auth-service", FAST)
    core.create_namespaced_secret(
        w.ns,
        client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"private.pem": "k"}),
    )
    s = core.read_namespaced_secret("jwt-signing-key", w.ns)
    s.data = None
    core.replace_namespaced_secret("jwt-signing-key", w.ns, s, field_manager="vault-sync")
    return w.cfg()


async def redis_no_scan(w: World) -> ChecksConfig:
    """Second example of one missing permission: a user that may run INFO and PING but not SCAN,
    in a busy, healthy cache: only the key scan is blind."""
    from tests.support.scenario_world import redis_traffic

    redis_traffic(w, hit=True)
    r = aioredis.from_url(w.testbed["ALP_REDIS_URL"], decode_responses=True)
    user = f"alp_noscan_{w.unique}"
    await r.execute_command("ACL", "SETUSER", user, "on", ">pw", "~*", "+@all", "-scan")
    w.undo += [lambda: r.execute_command("ACL", "DELUSER", user), r.aclose]
    return w.cfg(redis_url=w.testbed["ALP_REDIS_URL"].replace("redis://", f"redis://{user}:pw@"))


async def kafka_aborted_then_waiting(w: World) -> ChecksConfig:
    """Second example of "what a read_committed consumer could read": past the committed offset,
    an aborted transaction of 6 records, then a committed one of 2 that nobody read (the group
    has no members): the lag is 2 messages, not 9 offsets."""
    from aiokafka import AIOKafkaProducer

    from tests.support.kafka import commit, create_topic

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    await commit(boot, w.unique, w.unique, {0: 0})
    producer = AIOKafkaProducer(bootstrap_servers=boot, transactional_id=f"alp-test-{w.unique}-mixed")
    await producer.start()
    try:
        await producer.begin_transaction()
        for _ in range(6):
            await (await producer.send(w.unique, b"attempt", partition=0))
        await producer.abort_transaction()
        async with producer.transaction():
            for _ in range(2):
                await (await producer.send(w.unique, b"attempt", partition=0))
    finally:
        await producer.stop()
    return w.cfg()


async def scheduler_init_error(w: World) -> ChecksConfig:
    """Second example of an init phase failing: scheduler-service's wait-for-redis init container
    has just exited with an error (its first run: no CrashLoopBackOff yet, no previous instance)."""
    name = init_crash_pod(w, "scheduler-service", "wait-for-redis", "redis:6379 not reachable after 30s\n", False)
    client.CoreV1Api(w.kube).patch_namespaced_pod_status(
        name,
        w.ns,
        {
            "status": {
                "initContainerStatuses": [
                    {
                        "name": "wait-for-redis",
                        "image": "wait-for-redis:1",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"reason": "Error", "exitCode": 1}},
                    }
                ]
            }
        },
    )
    return w.cfg()


async def memory_istio_proxy_high(w: World) -> ChecksConfig:
    """Second example of naming containers by role with only the mesh present: Istio did inject
    this pod's proxy (its sidecar.istio.io/status annotation says so; the deployment's template
    holds only the app), and the proxy is at 96 % of its limit."""
    from tests.support.k8s_world import deployment

    services_measured(w, QUIET)
    client.AppsV1Api(w.kube).create_namespaced_deployment(w.ns, deployment("user-service", 3002, w.ns, replicas=0))
    pod = "user-service-2"
    make_pod(w.kube, w.ns, pod, "user-service", sidecars={"istio-proxy": "256Mi"})
    client.CoreV1Api(w.kube).patch_namespaced_pod(
        pod,
        w.ns,
        {
            "metadata": {
                "annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"],"initContainers":[]}'}
            }
        },
    )
    w.kubelet.logs[(w.ns, pod)] = QUIET
    container_metrics(w, pod, {"app": "100Mi", "istio-proxy": "246Mi"})
    return w.cfg()


async def auth_latency_no_config(w: World) -> ChecksConfig:
    """Second example of a named object missing: fast logins, but auth-config (which the latency
    section's token-cache remedy patches) is gone."""
    w.pod("auth-service", FAST)
    client.CoreV1Api(w.kube).delete_namespaced_config_map("auth-config", w.ns)
    return w.cfg()


# ---------------------------------------------------------------------- own variants, kinds not yet in the catalogue
FALCO_CRITICAL_JSON = (
    '{"output":"03:00:00.1: Critical Sensitive file opened for reading by non-trusted program (user=root '
    'command=cat /etc/shadow file=/etc/shadow container=auth-service)","priority":"Critical",'
    '"rule":"Read sensitive file untrusted","time":"2026-11-28T03:00:00.1Z"}\n'
)
FALCO_STARTUP = (
    "Thu Nov 28 03:00:00 2026: Falco version: 0.39.0\n"
    "Thu Nov 28 03:00:00 2026: Loading rules from file /etc/falco/falco_rules.yaml\n"
    "Thu Nov 28 03:00:00 2026: Starting health webserver with threadiness 2, listening on 0.0.0.0:8765\n"
)


def security_with_falco(falco_logs: str) -> Setup:
    """Falco's own output: an alert is a line with a Falco priority, whatever words its rule uses."""

    async def setup(w: World) -> ChecksConfig:
        w.pod("falco", falco_logs, namespace="falco-system")
        w.pod("kong-gateway", QUIET, namespace="kong")
        w.pod("auth-service", QUIET)
        return w.cfg()

    return setup


async def network_deny_all_egress(w: World) -> ChecksConfig:
    """A default-deny egress policy with no egress allowed: no pod reaches PostgreSQL, Redis, Kafka
    or even DNS, while every ingress is open."""
    istiod_pod(w)
    service_with_endpoints(w, "user-service", "10.244.0.16")
    client.NetworkingV1Api(w.kube).create_namespaced_network_policy(
        w.ns,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="default-deny-egress"),
            spec=client.V1NetworkPolicySpec(pod_selector=client.V1LabelSelector(), policy_types=["Egress"]),
        ),
    )
    return w.cfg()


UNCAUGHT_TRACEBACKS = lines(
    [f"2026-11-28T03:00:{i:02d}Z INFO POST /login 200 response_time=45ms" for i in range(20)]
    + [
        part
        for _ in range(3)
        for part in (
            "Traceback (most recent call last):",
            '  File "/app/auth/tokens.py", line 88, in sign',
            "    key = keys[header['kid']]",
            "KeyError: 'kid'",
        )
    ]
)


FALCO_ERROR_TEXT = (
    "03:00:05.123456789: Error File below /etc opened for writing (user=root command=sh -c echo x >> "
    "/etc/passwd file=/etc/passwd container_id=3f1c image=scheduler-service)\n"
)


async def network_deny_egress_then_allow_dns(w: World) -> ChecksConfig:
    """Second example, healthy: default-deny egress with a policy that then allows egress (DNS
    and the backends): the usual pattern, nothing is cut off."""
    await network_deny_all_egress(w)
    client.NetworkingV1Api(w.kube).create_namespaced_network_policy(
        w.ns,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name="allow-dns-and-backends"),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(),
                policy_types=["Egress"],
                egress=[client.V1NetworkPolicyEgressRule(ports=[client.V1NetworkPolicyPort(port=53, protocol="UDP")])],
            ),
        ),
    )
    return w.cfg()


async def health_evicted_replaced(w: World) -> ChecksConfig:
    """A pod evicted an hour ago under node memory pressure (phase Failed, reason Evicted: it
    stays listed until someone deletes it), replaced by a pod that runs and is ready."""
    await ensure_topic(w)
    w.pod("auth-service")
    name = f"auth-service-old-{w.unique}"
    make_pod(w.kube, w.ns, name, "auth-service", ready=False, phase="Failed")
    client.CoreV1Api(w.kube).patch_namespaced_pod_status(
        name,
        w.ns,
        {
            "status": {
                "phase": "Failed",
                "reason": "Evicted",
                "message": "The node was low on resource: memory. Container app was using 1.2Gi.",
                "conditions": [{"type": "Ready", "status": "False", "reason": "PodFailed"}],
                "containerStatuses": [
                    {
                        "name": "app",
                        "image": "auth-service:1",
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"terminated": {"reason": "ContainerStatusUnknown", "exitCode": 137}},
                    }
                ],
            }
        },
    )
    return w.cfg()


async def auth_evicted_disk(w: World) -> ChecksConfig:
    """Second example of history read as now: an auth-service pod evicted for ephemeral storage
    (its status also says the app container is not ready), beside a healthy replacement."""
    from tests.support.scenario_world import jwt_secret

    w.pod("auth-service", FAST)
    jwt_secret(w)
    name = f"auth-service-gone-{w.unique}"
    make_pod(w.kube, w.ns, name, "auth-service", ready=False)
    client.CoreV1Api(w.kube).patch_namespaced_pod_status(
        name,
        w.ns,
        {
            "status": {
                "phase": "Failed",
                "reason": "Evicted",
                "message": "The node was low on resource: ephemeral-storage. Threshold quantity: 1Gi.",
            }
        },
    )
    w.kubelet.logs[(w.ns, name)] = ""
    return w.cfg()


async def memory_no_limits(w: World) -> ChecksConfig:
    """Every container runs without a memory limit: nothing to judge use against ("within
    limits" would be a verdict without evidence)."""
    w.all_services(QUIET, memory_limit=None)
    for app in SERVICES:
        w.kubelet.set_pod_metrics(w.ns, f"{app}-1", cpu="100m", memory="900Mi")
    return w.cfg()


async def memory_some_unlimited(w: World) -> ChecksConfig:
    """Second example, healthy: auth-service within its limit, the other three without one: OK
    for what was judged, and saying what was not."""
    for app in SERVICES:
        w.pod(app, QUIET, **({} if app == "auth-service" else {"memory_limit": None}))
        w.kubelet.set_pod_metrics(w.ns, f"{app}-1", cpu="100m", memory="200Mi")
    return w.cfg()


# ---------------------------------------------------------------------- the fresh tester's misses (round 4)
KLOG_ERRORS = lines(
    [f"I1207 03:00:{i:02d}.000000       1 handler.go:88] login ok user=u{i}" for i in range(20)]
    + [f"E1207 03:01:0{i}.000000       1 tokens.go:42] token verify failed" for i in range(4)]
)


def old_restarts(w: World, app: str, restarts: int, days_ago: float) -> str:
    """A pod of `app` running and ready since its last restart `days_ago` days ago, `restarts` in its
    lifetime: history (the runbook's `kubectl get pods` RESTARTS column counts since creation)."""
    name = w.pod(app, FAST)
    restarted_long_ago(w, name, app, restarts, days_ago)
    return name


def restarted_long_ago(w: World, name: str, app: str, restarts: int, days_ago: float, reason: str = "Error") -> None:
    """Pod `name`'s app container: `restarts` in its lifetime, the last (`reason`) `days_ago` days ago."""
    from datetime import UTC, datetime, timedelta

    ended = datetime.now(UTC) - timedelta(days=days_ago)
    stamp = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    client.CoreV1Api(w.kube).patch_namespaced_pod_status(
        name,
        w.ns,
        {
            "status": {
                "containerStatuses": [
                    {
                        "name": "app",
                        "image": f"{app}:1",
                        "imageID": "",
                        "ready": True,
                        "restartCount": restarts,
                        "state": {"running": {"startedAt": stamp(ended + timedelta(seconds=5))}},
                        "lastState": {
                            "terminated": {
                                "reason": reason,
                                "exitCode": 137 if reason == "OOMKilled" else 1,
                                "startedAt": stamp(ended - timedelta(hours=1)),
                                "finishedAt": stamp(ended),
                            }
                        },
                    }
                ]
            }
        },
    )


async def auth_old_restarts(w: World) -> ChecksConfig:
    """auth-service restarted 12 times, the last 3 days ago, running and ready since: history."""
    from tests.support.scenario_world import jwt_secret

    old_restarts(w, "auth-service", 12, 3)
    jwt_secret(w)
    return w.cfg()


def deny_ingress_to(w: World, policy: str, app: str) -> None:
    client.NetworkingV1Api(w.kube).create_namespaced_network_policy(
        w.ns,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name=policy),
            spec=client.V1NetworkPolicySpec(
                pod_selector=client.V1LabelSelector(match_labels={"app": app}), policy_types=["Ingress"]
            ),
        ),
    )


async def network_isolates_user_service(w: World) -> ChecksConfig:
    """A policy selecting user-service with policyTypes [Ingress] and no rule: nothing reaches it."""
    istiod_pod(w)
    service_with_endpoints(w, "user-service", "10.244.0.16")
    deny_ingress_to(w, "isolate-user-service", "user-service")
    return w.cfg()


async def kafka_missing_group(w: World) -> ChecksConfig:
    await ensure_topic(w)
    return w.cfg()


# the unseen second examples of level formats (written after the fix)
PINO_FATAL = lines(
    [f'{{"level":30,"time":17335404{i:02d}000,"pid":1,"msg":"login ok user=u{i}"}}' for i in range(30)]
    + ['{"level":60,"time":1733540500000,"pid":1,"msg":"signing key unreadable, exiting"}']
)
SYSLOG_ERRORS = lines(
    [f"<14>Dec  7 03:00:{i:02d} auth[1]: login ok user=u{i}" for i in range(20)]
    + [f"<11>Dec  7 03:01:0{i} auth[1]: token verify: bad signature" for i in range(4)]
)
KONG_429_IPV6 = lines(
    [
        f'{{"started_at":17335404{i:02d}000,"client_ip":"2606:4700:10::6814:1","response":{{"status":429}},'
        '"message":"API rate limit exceeded"}'
        for i in range(15)
    ]
)


def security_with_kong(kong_logs: str) -> Setup:
    async def setup(w: World) -> ChecksConfig:
        w.pod("falco", QUIET, namespace="falco-system")
        w.pod("kong-gateway", kong_logs, namespace="kong")
        w.pod("auth-service", FAST)
        return w.cfg()

    return setup


async def memory_old_oom(w: World) -> ChecksConfig:
    """Second example of history read as now: user-service OOMKilled twice, the last 2 days ago,
    running within its limit since."""
    services_measured(w, QUIET)
    restarted_long_ago(w, "user-service-1", "user-service", 2, 2, reason="OOMKilled")
    return w.cfg()


def ingress_policy(w: World, name: str, selector: client.V1LabelSelector, allow_from: str | None) -> None:
    """A policy typed Ingress selecting `selector`; allowing ingress from pods app=`allow_from` if given."""
    rules = (
        [
            client.V1NetworkPolicyIngressRule(
                _from=[
                    client.V1NetworkPolicyPeer(pod_selector=client.V1LabelSelector(match_labels={"app": allow_from}))
                ]
            )
        ]
        if allow_from
        else None
    )
    client.NetworkingV1Api(w.kube).create_namespaced_network_policy(
        w.ns,
        client.V1NetworkPolicy(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1NetworkPolicySpec(pod_selector=selector, policy_types=["Ingress"], ingress=rules),
        ),
    )


async def network_isolates_by_expression(w: World) -> ChecksConfig:
    """Second example: scheduler-service cut off by a matchExpressions selector, while another
    policy allows user-service its callers (an allow elsewhere does not lift this deny)."""
    istiod_pod(w)
    service_with_endpoints(w, "user-service", "10.244.0.16")
    service_with_endpoints(w, "scheduler-service", "10.244.0.17")
    expr = client.V1LabelSelectorRequirement(key="app", operator="In", values=["scheduler-service"])
    ingress_policy(w, "lock-scheduler", client.V1LabelSelector(match_expressions=[expr]), None)
    ingress_policy(w, "allow-user", client.V1LabelSelector(match_labels={"app": "user-service"}), "auth-service")
    return w.cfg()


async def network_isolate_then_allow(w: World) -> ChecksConfig:
    """Healthy: user-service denied all ingress by one policy, and its callers allowed by another."""
    istiod_pod(w)
    service_with_endpoints(w, "user-service", "10.244.0.16")
    deny_ingress_to(w, "isolate-user-service", "user-service")
    ingress_policy(
        w, "allow-auth-to-user", client.V1LabelSelector(match_labels={"app": "user-service"}), "auth-service"
    )
    return w.cfg()


async def kafka_abandoned_group(w: World) -> ChecksConfig:
    """A group with no members, 50 behind on its one partition (the tester's V17)."""
    from tests.support.kafka import commit, create_topic, produce

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    await produce(boot, w.unique, {0: 60})
    await commit(boot, w.unique, w.unique, {0: 10})
    cfg = w.cfg()
    cfg.platform.consumer_groups = {w.unique: "user-service"}
    return cfg


async def redis_evicting(w: World) -> ChecksConfig:
    """Redis at its maxmemory (just above what it uses), volatile-lru, a writer whose every new key
    evicts an older one: hits stay high while keys are evicted (the tester's V21). Only this world's
    keys carry a TTL, so only they are evicted; maxmemory and the policy are restored after."""
    r = aioredis.from_url(w.testbed["ALP_REDIS_URL"], decode_responses=True)
    was = await r.config_get("maxmemory*")
    used = int((await r.info("memory"))["used_memory"])
    await r.config_set("maxmemory-policy", "volatile-lru")
    await r.config_set("maxmemory", str(used + 2_000_000))
    n = 0

    async def step() -> None:
        nonlocal n
        n += 1
        await r.set(f"evict:{w.unique}:{n}", "x" * 20_000, ex=600)
        await r.get(f"evict:{w.unique}:{n}")

    async def undo() -> None:
        await r.config_set("maxmemory", was["maxmemory"])
        await r.config_set("maxmemory-policy", was["maxmemory-policy"])
        keys = [k async for k in r.scan_iter(f"evict:{w.unique}:*", count=1000)]
        for i in range(0, len(keys), 500):
            await r.delete(*keys[i : i + 500])
        await r.aclose()

    w.undo.append(undo)
    w.loop(step)
    await asyncio.sleep(1.0)
    return w.cfg()
