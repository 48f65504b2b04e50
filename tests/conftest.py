"""Shared fixtures: the test bed's real servers, the fake Slack, and a running alp-bot."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slack_fake import FakeSlack

ROOT = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "test-signing-secret"
# Seconds, not minutes: P0 pages at once, P1 after 2 s, then a step every 2 s.
ESCALATION_ENV = {
    "ALP_ESCALATION__P0_FIRST_PAGE_S": "0",
    "ALP_ESCALATION__P1_FIRST_PAGE_S": "2",
    "ALP_ESCALATION__P2_FIRST_PAGE_S": "3600",
    "ALP_ESCALATION__STEP_WAIT_S": "2",
    "ALP_ESCALATION__ACK_TIMEOUT_S": "0",
    "ALP_ESCALATION__PAGE_BACKOFF_S": "0.1",
    "ALP_ESCALATION__LEADER_POLL_S": "0.3",
    "ALP_ESCALATION__ONCALL__PRIMARY": "<!subteam^S0DEVOPS|devops-oncall>",
    "ALP_ESCALATION__ONCALL__PRIMARY_USERS": '["U0PRIMARY"]',
}
BOT_TOKEN = "xoxb-test-token"
# Alice and Bob may do anything; the SRE user group (Carol) disruptive; everyone safe; Mallory nothing more.
ACTIONS_ENV = {
    "ALP_ACTIONS__PERMISSIONS": '{"safe": ["*"], "disruptive": ["S0SRE"], "destructive": ["U0ALICE", "U0BOB"]}',
    "ALP_ACTIONS__APPROVAL_TIMEOUT_S": "4",
    "ALP_ACTIONS__GROUP_CACHE_S": "0",
    "ALP_ACTIONS__MIN_REPLICAS": "0",  # the test world runs no pods: undoing a scale goes back to 0
}


def _testbed_env() -> dict[str, str]:
    """Targets from the environment, else from `scripts/testbed env`."""
    if os.environ.get("ALP_KAFKA_BOOTSTRAP"):
        return {k: v for k, v in os.environ.items() if k.startswith("ALP_") or k == "KUBECONFIG"}
    out = subprocess.run([ROOT / "scripts/testbed", "env"], capture_output=True, text=True, check=True)
    env = {}
    for line in out.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


@pytest.fixture(scope="session")
def testbed() -> dict[str, str]:
    env = _testbed_env()
    host, port = env["ALP_KAFKA_BOOTSTRAP"].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        pytest.fail("the test bed is not running: run `scripts/testbed up` (scripts/test does)")
    from scripts.world.demo import clear_lock_chain, clear_redis

    clear_lock_chain(env["ALP_POSTGRES_DSN"])  # left by `scripts/testbed demo`: tests make their own faults
    clear_redis(env["ALP_REDIS_URL"])
    if env.get("KUBECONFIG"):
        os.environ.setdefault("KUBECONFIG", env["KUBECONFIG"])  # Kube() reads it like kubectl does
    return env


@pytest.fixture
def unique() -> str:
    """A name no other test uses (topics, groups, keys)."""
    return f"t{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[FakeSlack]:
    slack = FakeSlack().start()
    yield slack
    slack.stop()


class BotProcess:
    """A real `alp-bot` process, reached over HTTP on loopback."""

    def __init__(self, env: dict[str, str], log_path: Path | None = None) -> None:
        self.env = env
        self.log_path = log_path  # stderr (the bot's log) goes there when set
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> BotProcess:
        self.port = free_port()
        env = {**os.environ, **self.env, "ALP_HTTP_PORT": str(self.port), "ALP_HTTP_HOST": "127.0.0.1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.server"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("w") if self.log_path else subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            log = self.log_path.read_text() if self.log_path else self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"alp-bot did not start: {log}")
        assert json.loads(line)["event"] == "listening"
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def bot(
    testbed: dict[str, str],
    fake_slack: FakeSlack,
    platform,
    kube_admin,  # type: ignore[no-untyped-def]
    tmp_path_factory,
) -> Iterator[BotProcess]:
    from tests.k8s_world import SERVICES

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


@pytest.fixture(autouse=True)
def _clean_slack(request: pytest.FixtureRequest) -> None:
    if "fake_slack" in request.fixturenames:
        request.getfixturevalue("fake_slack").reset()


def wait_until(pred, timeout: float = 20, interval: float = 0.1):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


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
    from tests.fakes import FakePlatform

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

    from tests.k8s_world import delete_namespace

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
