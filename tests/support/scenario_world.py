"""The test bed as a scenario sees it: a World to arrange real faults in (pods and their logs,
lock chains, Redis traffic, services and endpoints, bad passwords), and undo afterwards."""

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
from tests.support.checks_env import config_for
from tests.support.k8s_world import NODE, deployment, make_pod

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

    def runbook_configmaps(self) -> None:
        """The configmaps the runbook patches (auth-config, scheduler-config, …), as in the platform's namespace."""
        from tests.support.k8s_world import CONFIGMAPS

        core = client.CoreV1Api(self.kube)
        for name, data in CONFIGMAPS.items():
            core.create_namespaced_config_map(
                self.ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)
            )

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

    async def limited_role(self) -> str:
        """A DSN for a fresh login role with no pg_read_all_stats (as a least-privilege bot account
        would be): it sees other roles' backends and statements only as NULL / "<insufficient privilege>"."""
        role = f"alp_ro_{self.unique}"
        admin = await self.pg()
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'ro-pw'")

        async def drop() -> None:
            async with await psycopg.AsyncConnection.connect(self.testbed["ALP_POSTGRES_DSN"], autocommit=True) as c:
                await c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
                await c.execute(f"DROP ROLE IF EXISTS {role}")

        self.undo.append(drop)
        info = conninfo_to_dict(self.testbed["ALP_POSTGRES_DSN"])
        info.update(user=role, password="ro-pw")
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


# ---------------------------------------------------------------------- log lines
QUIET = "2026-11-28T03:00:00Z INFO request ok\n"
FAST = "\n".join(f"2026-11-28T03:00:{i:02d}Z INFO GET /x 200 response_time={40 + i}ms" for i in range(20))
SLOW = "\n".join(f"2026-11-28T03:00:{i:02d}Z INFO GET /x 200 response_time={2500 + 10 * i}ms" for i in range(20))


async def ensure_topic(w: World) -> None:
    from tests.support.kafka import create_topic

    with contextlib.suppress(Exception):
        await create_topic(w.testbed["ALP_KAFKA_BOOTSTRAP"], "user.attempts", 3)


async def caught_up_group(w: World) -> ChecksConfig:
    from tests.support.kafka import commit, create_topic, produce

    boot = w.testbed["ALP_KAFKA_BOOTSTRAP"]
    await create_topic(boot, w.unique, 1)
    await produce(boot, w.unique, {0: 3})
    await commit(boot, w.unique, w.unique, {0: 3})
    cfg = w.cfg()
    cfg.platform.consumer_groups = {w.unique: "user-service"}
    return cfg


async def lock_chain(w: World, waiters: int = 3) -> None:
    """A real row-lock chain: a holder idle in transaction, `waiters` UPDATEs queued behind it."""
    admin = await w.pg()
    await admin.execute(f"CREATE TABLE {w.unique} (id int primary key, v int)")
    await admin.execute(f"INSERT INTO {w.unique} VALUES (1, 0)")
    w.undo.append(lambda: drop_table(w, w.unique))
    holder = await w.pg()
    await holder.execute("SET application_name = 'billing-batch'")
    await holder.execute("BEGIN")
    await holder.execute(f"UPDATE {w.unique} SET v = 1 WHERE id = 1")
    for i in range(waiters):
        conn = await w.pg()
        w.tasks.append(asyncio.create_task(conn.execute(f"UPDATE {w.unique} SET v = {i + 2} WHERE id = 1")))
    await asyncio.sleep(0.6)


async def drop_table(w: World, table: str) -> None:
    async with await psycopg.AsyncConnection.connect(w.testbed["ALP_POSTGRES_DSN"], autocommit=True) as c:
        await c.execute(f"DROP TABLE IF EXISTS {table}")


def redis_traffic(w: World, hit: bool) -> None:
    r = aioredis.from_url(w.testbed["ALP_REDIS_URL"], decode_responses=True)
    w.undo.append(r.aclose)

    async def step() -> None:
        await r.set(f"user:{w.unique}", "1")
        await r.get(f"user:{w.unique}" if hit else f"user:{w.unique}:missing")

    w.loop(step)


def service_with_endpoints(w: World, name: str, ready_pod_ip: str | None) -> None:
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


def istiod_pod(w: World) -> None:
    w.pod("istiod", QUIET, namespace="istio-system")


def jwt_secret(w: World) -> None:
    client.CoreV1Api(w.kube).create_namespaced_secret(
        w.ns, client.V1Secret(metadata=client.V1ObjectMeta(name="jwt-signing-key"), string_data={"key": "k"})
    )


async def redis_with_outliers(w: World, every: int = 5, delay_s: float = 0.1) -> str:
    """A Redis URL through a TCP relay that holds every `every`-th PONG for `delay_s`: a minority of
    slow round trips, as on a busy host, while Redis itself answers at once."""
    from urllib.parse import urlsplit

    target = urlsplit(w.testbed["ALP_REDIS_URL"])
    pongs = 0

    async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(target.hostname, target.port)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, from_redis: bool) -> None:
            nonlocal pongs
            while data := await src.read(65536):
                if from_redis and data == b"+PONG\r\n":
                    pongs += 1
                    if pongs % every == 0:
                        await asyncio.sleep(delay_s)
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(pipe(client_r, server_w, False), pipe(server_r, client_w, True), return_exceptions=True)

    server = await asyncio.start_server(relay, "127.0.0.1", 0)
    w.undo.append(server.close)
    port = server.sockets[0].getsockname()[1]
    return w.testbed["ALP_REDIS_URL"].replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{port}")
