"""Shared fixtures: the test bed's real servers, the fake Slack, and a running alp-bot."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET
from tests.support.processes import BotProcess, testbed_env
from tests.support.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def testbed() -> dict[str, str]:
    env = testbed_env()
    host, port = env["ALP_KAFKA_BOOTSTRAP"].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        pytest.fail("the test bed is not running: run `scripts/testbed up` (scripts/test does)")
    from scripts.world.demo import clear_lock_chain, clear_redis

    clear_lock_chain(env["ALP_POSTGRES_DSN"])  # left by `scripts/testbed demo`: tests make their own faults
    clear_redis(env["ALP_REDIS_URL"])
    if env.get("ALP_TESTBED_PLATFORM_PORT"):  # the demo's slow auth-service (its alert firing): tests set their own
        from scripts.world.client import StandIns

        with contextlib.suppress(OSError):  # a stand-in down: the tests that need it say so
            StandIns.from_env(env).reset_traffic()
    if env.get("KUBECONFIG"):
        os.environ.setdefault("KUBECONFIG", env["KUBECONFIG"])  # Kube() reads it like kubectl does
    return env


@pytest.fixture
def unique() -> str:
    """A name no other test uses (topics, groups, keys)."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack().start()
    yield slack
    slack.stop()


@pytest.fixture(scope="session")
def bot(
    testbed: dict[str, str],
    fake_slack: FakeSlack,
    platform,
    kube_admin,  # type: ignore[no-untyped-def]
    tmp_path_factory,
) -> Iterator[BotProcess]:
    from tests.support.k8s_world import SERVICES

    services = [{"name": n, "port": p, "url": f"{platform.base}/svc/{n}"} for n, p in SERVICES.items()]
    proc = BotProcess(
        {
            **testbed,
            "ALP_PLATFORM__SERVICES": json.dumps(services),
            "ALP_ENDPOINTS__OAUTH_URL": f"{platform.base}/oauth",
            "ALP_ENDPOINTS__MLFLOW_URL": f"{platform.base}/mlflow",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "ALP_KAFKA_LAG__SAMPLES": "2",
            "ALP_KAFKA_LAG__INTERVAL_S": "0.2",
            "ALP_TIMEOUTS__PROBE_S": "3",
            **ESCALATION_ENV,
            **ACTIONS_ENV,
            "ALP_STATE_URL": f"sqlite:///{tmp_path_factory.mktemp('state')}/alp-state.db",
        }
    ).start()
    yield proc
    proc.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Bots a test starts itself and leaves running (a failed assertion before its `stop`) are stopped after
    it: left alive they keep paging and syncing groups into the session's fake Slack, read by later tests."""
    before = set(BotProcess.live)
    try:
        return (yield)
    finally:
        for left in BotProcess.live - before:
            left.stop()


@pytest.fixture(autouse=True)
def _clean_slack(request: pytest.FixtureRequest) -> None:
    if "fake_slack" in request.fixturenames:
        request.getfixturevalue("fake_slack").reset()


@pytest.fixture(scope="session")
def kubelet(testbed: dict[str, str]) -> object:
    """The test bed's kubelet and metrics stand-ins (scripts/world/standins.py): `.logs[(ns, pod)] = text`,
    `.log_requests`, `.set_pod_metrics(...)`, `.metrics[ns]`, `.port` (the Node's kubelet), `.metrics_port`."""
    from scripts.world.client import StandIns

    standins = StandIns.from_env(testbed)
    if not standins.reachable():
        pytest.fail("the kubelet stand-in is not running: run `scripts/testbed up` (scripts/test does)")
    return standins


@pytest.fixture(scope="session")
def platform() -> Iterator[object]:
    from tests.support.fakes import FakePlatform

    fake = FakePlatform().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def kube_admin(testbed: dict[str, str], kubelet) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """An admin ApiClient for the test bed's API server, with the fake node and the runbook's world
    (without what `scripts/testbed demo` adds: tests make their own faults)."""
    from kubernetes import client, config

    from scripts.world.kube import clear_demo, create_world, register_node

    if not testbed.get("KUBECONFIG") or not os.path.exists(testbed["KUBECONFIG"]):
        pytest.fail("no KUBECONFIG from the test bed: run `scripts/testbed up`")
    cfg = client.Configuration()
    config.load_kube_config(config_file=testbed["KUBECONFIG"], client_configuration=cfg)
    api = client.ApiClient(cfg)
    register_node(api, kubelet.port)
    clear_demo(api)
    create_world(api)
    yield api
    api.close()


@pytest.fixture
def ns(kube_admin):  # type: ignore[no-untyped-def]
    """A fresh namespace for one test, force-cleaned afterwards."""
    from kubernetes import client

    from tests.support.k8s_world import delete_namespace

    name = f"t-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(kube_admin).create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    delete_namespace(kube_admin, name)


@pytest.fixture
def cleanup_pods(kube_admin):  # type: ignore[no-untyped-def]
    """Pods a test creates in shared namespaces (istio-system, falco-system, kong): removed after."""
    from kubernetes import client

    created: list[tuple[str, str]] = []
    yield created
    core = client.CoreV1Api(kube_admin)
    for namespace, name in created:
        core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)


@pytest.fixture
def pg_state(testbed):  # type: ignore[no-untyped-def]
    """A fresh PostgreSQL database for the bots' shared state."""
    name = f"alp_state_{uuid.uuid4().hex[:8]}"
    admin = testbed["ALP_POSTGRES_DSN"].rsplit("/", 1)[0]
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield f"{admin}/{name}"
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(autouse=True)
def _fresh_pager(request: pytest.FixtureRequest) -> None:
    """Incident numbers restart with each test's database: forget the pager events of earlier tests."""
    if "platform" in request.fixturenames:
        platform = request.getfixturevalue("platform")
        platform.pager_events.clear()
        platform.pager_failures = 0
