"""`scripts/testbed demo` and `scripts/run`: the first run a newcomer sees, on the real test bed.

The demo is seeded by the real command (scripts/world/demo.py behind `scripts/testbed demo`),
read back through the real servers (API server, its proxy to the kubelet stand-in, the metrics
APIService, Kafka, PostgreSQL, Redis), and cleared afterwards so other tests keep their own state.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from kubernetes import client

from scripts.world import demo
from scripts.world.client import StandIns
from scripts.world.kube import DEMO_LABEL, PLATFORM, clear_demo

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _env(testbed: dict[str, str], **over: str) -> dict[str, str]:
    return {**os.environ, **testbed, **over}


def seed(testbed: dict[str, str]) -> dict[str, str]:
    """`scripts/testbed demo`; the `export` lines it prints, as a dict."""
    out = subprocess.run(
        [ROOT / "scripts/testbed", "demo"], env=_env(testbed), capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr
    exports = dict(re.findall(r"^export (\w+)='(.*)'$", out.stdout, re.M))
    assert exports, out.stdout
    return exports


def clear(api: client.ApiClient, testbed: dict[str, str]) -> None:
    clear_demo(api)
    demo.clear_lock_chain(testbed["ALP_POSTGRES_DSN"])
    StandIns.from_env(testbed).reset_traffic()  # the slow auth-service: its alert resolves


@pytest.fixture(scope="module")
def seeded(testbed, kube_admin) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    yield seed(testbed)
    clear(kube_admin, testbed)


def group_offsets(bootstrap: str, group: str, topic: str) -> dict[int, tuple[int, int]]:
    """partition -> (committed offset of `group`, end offset), for `topic`."""

    async def read() -> dict[int, tuple[int, int]]:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        tps = [tp for tp in committed if tp.topic == topic]
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(tps) if tps else {}
        finally:
            await consumer.stop()
        return {tp.partition: (committed[tp].offset, ends[tp]) for tp in tps}

    return asyncio.run(read())


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def picture(api: client.ApiClient, testbed: dict[str, str]) -> dict[str, Any]:
    """What an on-call engineer would see of the demo, through the real servers."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    pods = {}
    for pod in core.list_namespaced_pod(PLATFORM, label_selector=DEMO_LABEL).items:
        [cs] = pod.status.container_statuses
        log = core.read_namespaced_pod_log(pod.metadata.name, PLATFORM, tail_lines=500)  # via the kubelet stand-in
        pods[pod.metadata.name] = {
            "node": pod.spec.node_name,
            "phase": pod.status.phase,
            "ready": cs.ready,
            "restarts": cs.restart_count,
            "waiting": cs.state.waiting.reason if cs.state.waiting else None,
            "log": _STAMP.sub("<time>", log),  # timestamps follow the clock: the lines do not
        }
    metrics = client.CustomObjectsApi(api).list_namespaced_custom_object("metrics.k8s.io", "v1beta1", PLATFORM, "pods")
    events = core.list_namespaced_event(PLATFORM, label_selector=DEMO_LABEL).items
    with psycopg.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True) as conn:
        blocked = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s"
            " AND cardinality(pg_blocking_pids(pid)) > 0 ORDER BY query",
            (demo.LOCK_APP,),
        ).fetchall()
    stats = redis.Redis.from_url(testbed["ALP_REDIS_URL"]).info("stats")
    return {
        "pods": pods,
        "deployments": {d.metadata.name: d.spec.replicas for d in apps.list_namespaced_deployment(PLATFORM).items},
        "configmaps": {c.metadata.name: c.data for c in core.list_namespaced_config_map(PLATFORM).items},
        "metrics": {m["metadata"]["name"]: m["containers"][0]["usage"] for m in metrics["items"]},
        "events": sorted((e.involved_object.name, e.reason, e.type) for e in events),
        "kafka": group_offsets(testbed["ALP_KAFKA_BOOTSTRAP"], demo.GROUP, demo.TOPIC),
        "blocked": [q for (q,) in blocked],
        "redis": (stats["keyspace_hits"], stats["keyspace_misses"]),
    }


def test_demo_twice_gives_the_same_picture(testbed, kube_admin, seeded):
    first = picture(kube_admin, testbed)
    again = seed(testbed)
    second = picture(kube_admin, testbed)

    assert again == seeded
    assert first == second
    pods = first["pods"]
    assert {p["node"] for p in pods.values()} == {"alp-fake-node"}
    crash = [n for n, p in pods.items() if p["waiting"] == "CrashLoopBackOff"]
    not_ready = [n for n, p in pods.items() if not p["ready"] and not p["waiting"]]
    assert len(crash) == 1 and crash[0].startswith("user-service-") and pods[crash[0]]["restarts"] > 3
    assert len(not_ready) == 1 and not_ready[0].startswith("scheduler-service-")
    auth = [p["log"] for n, p in pods.items() if n.startswith("auth-service-")]
    assert any("response_time=" in log and "ERROR" in log for log in auth)
    assert set(first["metrics"]) == set(pods)
    assert set(first["deployments"]) == {"auth-service", "user-service", "scheduler-service", "ml-service"}
    assert first["configmaps"]["auth-config"]["fallback_enabled"] == "false"
    assert {(n.split("-")[0], r) for n, r, _ in first["events"]} == {("user", "BackOff"), ("scheduler", "Unhealthy")}
    assert first["kafka"] == {p: (demo.COMMITTED[p], demo.END_OFFSETS[p]) for p in demo.END_OFFSETS}
    assert len(first["blocked"]) == 2 and all("user_progress" in q for q in first["blocked"])
    assert first["redis"] == (30, 170)


def alp(testbed: dict[str, str], exports: dict[str, str], *words: str) -> subprocess.CompletedProcess[str]:
    env = _env(testbed, **exports, ALP_KAFKA_LAG__INTERVAL_S="0.5")
    return subprocess.run(
        [str(ROOT / ".venv/bin/alp"), *words], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_health_and_kafka_lag_on_the_demo_exit_2_naming_the_faults(testbed, seeded):
    health = alp(testbed, seeded, "--json", "health")
    report = json.loads(health.stdout)
    assert health.returncode == 2 == report["exit_code"], health.stderr
    critical = [f for f in report["findings"] if f["severity"] == "critical"]
    named = json.dumps(critical)
    for pod, what in (("user-service-", "CrashLoopBackOff"), ("scheduler-service-", "ContainersNotReady")):
        assert re.search(rf"{pod}\w+-\w+.{{0,200}}{what}", named), named

    lag = alp(testbed, seeded, "--json", "check", "kafka-lag")
    report = json.loads(lag.stdout)
    assert lag.returncode == 2 == report["exit_code"], lag.stderr
    # other groups (left by other tests) may lag too: the demo's is the one named user-service
    [group] = [f for f in report["findings"] if f["title"].startswith(f"Consumer group {demo.GROUP}:")]
    assert group["severity"] == "critical"
    assert "STOP" in group["title"]
    assert {"restart", "reset-offsets"} <= {s["action"] for s in group["suggestions"]}

    text = alp(testbed, seeded, "check", "kafka-lag")
    assert text.returncode == 2 and f"Consumer group {demo.GROUP}: STOP" in text.stdout


def test_demo_pods_are_owned_by_their_deployments_as_kubectl_would_make_them(testbed, kube_admin, seeded):
    """#29 item 8: each demo pod belongs to a ReplicaSet of its service's Deployment, whose replicas
    count its pods, so the checks and remedies see what they would in production."""
    core, apps = client.CoreV1Api(kube_admin), client.AppsV1Api(kube_admin)
    pods = core.list_pod_for_all_namespaces(label_selector=DEMO_LABEL).items
    assert pods
    per_deployment: dict[tuple[str, str], int] = {}
    for pod in pods:
        owners = [o for o in pod.metadata.owner_references or [] if o.controller]
        assert [o.kind for o in owners] == ["ReplicaSet"], pod.metadata.name
        rs = apps.read_namespaced_replica_set(owners[0].name, pod.metadata.namespace)
        assert rs.metadata.uid == owners[0].uid
        [dep] = [o for o in rs.metadata.owner_references or [] if o.controller and o.kind == "Deployment"]
        assert pod.metadata.name.startswith(f"{dep.name}-")
        key = (pod.metadata.namespace, dep.name)
        per_deployment[key] = per_deployment.get(key, 0) + 1
    assert {d for _, d in per_deployment} >= set(demo.SERVICES)
    for (namespace, name), count in per_deployment.items():
        assert apps.read_namespaced_deployment(namespace=namespace, name=name).spec.replicas == count, name

    preview = alp(testbed, seeded, "do", "restart", "user-service")  # previews, asks, and is not confirmed
    assert "its 1 pod(s)" in preview.stdout + preview.stderr, preview.stdout + preview.stderr
    latency = alp(testbed, seeded, "check", "latency")
    assert "scaled to 0" not in latency.stdout, latency.stdout  # the pods it shows running are its own


@pytest.mark.parametrize("how", ["env", "config-file"])
def test_scripts_run_against_real_targets_seeds_and_starts_nothing(testbed, kube_admin, tmp_path, how):
    clear(kube_admin, testbed)
    before = group_offsets(testbed["ALP_KAFKA_BOOTSTRAP"], demo.GROUP, demo.TOPIC)
    bed_home = tmp_path / "no-testbed-here"
    bed_home.mkdir()
    env = _env(testbed, ALP_TESTBED_HOME=str(bed_home), ALP_KAFKA_LAG__INTERVAL_S="0.2")
    if how == "config-file":
        targets = {
            k: env.pop(v)
            for k, v in (
                ("postgres_dsn", "ALP_POSTGRES_DSN"),
                ("redis_url", "ALP_REDIS_URL"),
                ("kafka_bootstrap", "ALP_KAFKA_BOOTSTRAP"),
            )
        }
        (tmp_path / "alp.toml").write_text("".join(f'{k} = "{v}"\n' for k, v in targets.items()))
        env["ALP_CONFIG"] = str(tmp_path / "alp.toml")

    out = subprocess.run([ROOT / "scripts/run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)

    assert "$ alp health" in out.stdout and "$ alp check kafka-lag" in out.stdout, out.stderr
    assert "demo:" not in out.stderr and "testbed:" not in out.stderr and "Next steps" not in out.stdout
    assert list(bed_home.iterdir()) == []  # the test bed was not even asked
    core = client.CoreV1Api(kube_admin)
    assert core.list_pod_for_all_namespaces(label_selector=DEMO_LABEL).items == []
    with psycopg.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True) as conn:
        held = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (demo.LOCK_APP,))
        assert held.fetchone() == (0,)
    assert group_offsets(testbed["ALP_KAFKA_BOOTSTRAP"], demo.GROUP, demo.TOPIC) == before


def test_scripts_run_with_a_bad_config_says_so_once_and_stops(testbed, tmp_path):
    env = _env(testbed, ALP_CONFIG=str(tmp_path / "missing.toml"))
    out = subprocess.run([ROOT / "scripts/run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert out.returncode == 64, out.stdout + out.stderr
    assert out.stderr.count("missing.toml: no such file") == 1, out.stderr
    assert "$ alp check kafka-lag" not in out.stdout


def _no_targets(testbed: dict[str, str]) -> dict[str, str]:
    """The environment of a newcomer: this test bed's ALP_TESTBED_* settings, no targets."""
    env = _env(testbed)
    for key in (
        "ALP_POSTGRES_DSN",
        "ALP_REDIS_URL",
        "ALP_KAFKA_BOOTSTRAP",
        "ALP_CONFIG",
        "ALP_STATE_URL",
        "KUBECONFIG",
    ):
        env.pop(key, None)
    return env


def test_status_lists_the_stand_ins(testbed):
    out = subprocess.run([ROOT / "scripts/testbed", "status"], env=_env(testbed), capture_output=True, text=True)
    for role in ("kubelet", "metrics", "platform"):
        port = testbed[f"ALP_TESTBED_{role.upper()}_PORT"]
        assert re.search(rf"^{role}\s+up\s+127\.0\.0\.1:{port}$", out.stdout, re.M), out.stdout


def test_scripts_run_with_no_targets_shows_the_demo_and_exits_2_twice(testbed, seeded):
    def scripts_run() -> tuple[list[str], str]:
        out = subprocess.run(
            [ROOT / "scripts/run"], cwd=ROOT, env=_no_targets(testbed), capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 2, out.stdout + out.stderr
        verdicts = [
            line for line in out.stdout.splitlines() if re.match(r"^(\[CRIT\]|\[WARN\]|\w[\w-]*: [A-Z]+ )", line)
        ]
        same = [re.sub(r"behind by [\w.]+", "behind by (time)", line) for line in verdicts]  # the wait grows
        return [re.sub(r"\(\d+\.\d+s\)", "(time)", line) for line in same], out.stdout

    verdicts, text = scripts_run()
    assert "$ alp health" in text and "$ alp check kafka-lag" in text
    assert any(v.startswith("[CRIT] Consumer group user-service: STOP, lag 123") for v in verdicts), verdicts
    assert re.search(r"user-service-\w+-\w+ .*CrashLoopBackOff", text) and re.search(
        r"scheduler-service-\w+-\w+ .*ContainersNotReady", text
    )
    assert "-> restart deployment=user-service" in text
    steps = text[text.index("Next steps") :]
    for command in ("scripts/run bot --demo", "scripts/run do ", "scripts/testbed down"):
        assert command in steps
    again, _ = scripts_run()
    assert again == verdicts


def test_bot_demo_posts_block_kit_to_the_fake_slack_and_says_where(testbed, seeded):
    out = subprocess.run(
        [ROOT / "scripts/run", "bot", "--demo"],
        cwd=ROOT,
        env=_no_targets(testbed),
        input="check deadlocks\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    where = re.search(r"appended to (\S+slack-calls\.jsonl)", out.stdout)
    assert where, out.stdout
    calls = [json.loads(line) for line in Path(where.group(1)).read_text().splitlines()]
    finals = [
        json.dumps(c["args"]["blocks"]) for c in calls if c["method"] == "chat.update" and c["args"].get("blocks")
    ]
    for headline in ("health: CRITICAL", "kafka-lag: CRITICAL", "deadlocks: CRITICAL"):
        assert any(headline in blocks for blocks in finals), headline
    assert any("Consumer group user-service: STOP" in blocks for blocks in finals)
    assert any("user_progress" in blocks for blocks in finals)  # the lock chain, named by its query


def test_bot_demo_shows_the_demo_fault_fire_a_real_alert_posted_with_its_graph(testbed, seeded):
    """The demo's slow auth-service -> the bed's Prometheus rule -> its Alertmanager -> the bot: the alert
    group's message (FIRING, "still firing") with the rule's expression graphed in its thread, and an
    incident; nothing posted by hand. Slow: the rule's rate window fills first (about a minute). A second
    run, the alert firing all along and the state store remembering its group's message from the first
    run's fake Slack (gone), shows it again: the message posted anew, its chart in the new thread."""
    for run in (1, 2):
        out = subprocess.run(
            [ROOT / "scripts/run", "bot", "--demo"],
            cwd=ROOT,
            env=_no_targets(testbed),
            input="",
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        said = r"the demo's alert reached alp through Alertmanager: .*HighResponseTime.* \(with \d graph"
        assert re.search(said, out.stdout), (run, out.stdout)
        where = re.search(r"appended to (\S+slack-calls\.jsonl)", out.stdout)
        assert where, out.stdout
        calls = [json.loads(line) for line in Path(where.group(1)).read_text().splitlines()]
        alert = next(
            c
            for c in calls
            if c["method"] == "chat.postMessage"
            and "HighResponseTime" in c["args"].get("text", "")
            and "FIRING" in c["args"].get("text", "")
            and not c["args"].get("thread_ts")
            and c["ts"]
        )
        text = json.dumps(alert["args"]["blocks"])
        assert "service=auth-service}: still firing" in text, text
        assert "INC-" in text  # routed with a priority: the group's message announces its incident
        assert any(
            c["method"] == "files.completeUploadExternal" and c["args"].get("thread_ts") == alert["ts"] for c in calls
        )
        config = Path(testbed["ALP_TESTBED_ALERTMANAGER_CONFIG"]).read_text()
        assert "alp-demo-" not in config  # the bed's Alertmanager put back as it was


def test_demo_clears_what_earlier_runs_left_but_not_live_consumers(testbed, seeded, unique):
    """Groups without members (tests, benchmarks) would drown the demo's kafka-lag report, and old
    statements its auth-latency and db-load; a group with a live consumer is somebody's and stays."""
    from tests.support.kafka import commit, create_topic, produce

    bootstrap = testbed["ALP_KAFKA_BOOTSTRAP"]
    with psycopg.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True) as conn:
        conn.execute(f"SELECT 1 AS {unique}")

    async def around_seed() -> set[str]:
        await create_topic(bootstrap, unique, 1)
        await produce(bootstrap, unique, {0: 5})
        await commit(bootstrap, f"{unique}-left", unique, {0: 1})
        live = AIOKafkaConsumer(unique, bootstrap_servers=bootstrap, group_id=f"{unique}-live")
        await live.start()
        try:
            while not live.assignment():
                await live.getmany(timeout_ms=500)
            await asyncio.to_thread(seed, testbed)
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                return {g[0] for g in await admin.list_consumer_groups()}
            finally:
                await admin.close()
        finally:
            await live.stop()

    groups = asyncio.run(around_seed())

    assert f"{unique}-left" not in groups
    assert {f"{unique}-live", demo.GROUP} <= groups
    with psycopg.connect(testbed["ALP_POSTGRES_DSN"], autocommit=True) as conn:
        left = conn.execute("SELECT count(*) FROM pg_stat_statements WHERE query LIKE %s", (f"%{unique}%",))
        assert left.fetchone() == (0,)


def test_scripts_run_with_words_leaves_the_demo_as_the_last_run_left_it(testbed, kube_admin, seeded):
    """`scripts/run do …` then `scripts/run check …` shows the remedy's effect, not a re-seeded fault;
    a demo that is not there (the tests took it away) is seeded."""

    def scripts_run(*words: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ROOT / "scripts/run", *words],
            cwd=ROOT,
            env=_no_targets(testbed),
            capture_output=True,
            text=True,
            timeout=300,
        )

    try:
        clear(kube_admin, testbed)
        before = scripts_run("check", "deadlocks")
        assert before.returncode == 2 and "backend(s) blocked" in before.stdout, before.stdout + before.stderr

        fixed = scripts_run("do", "terminate-queries", "blocking=true", "--yes")
        assert fixed.returncode == 0 and "terminated" in fixed.stdout, fixed.stdout + fixed.stderr
        after = scripts_run("check", "deadlocks")
        assert after.returncode == 0 and "backend(s) blocked" not in after.stdout, after.stdout + after.stderr
        assert "already seeded" in after.stderr
    finally:
        seed(testbed)  # the module's demo, faults and all, for any test after this one


def test_testbed_up_waits_for_a_port_still_in_use_instead_of_failing(testbed, seeded):
    """A stand-in that died: `demo` says which and what to do (no traceback). The fixed ports lie in the ephemeral range: a port can still be held for a while when `up`
    starts a server (a closing connection, a process on its way out). `up` waits, says so, and
    the server comes up, instead of the server exiting at once and `up` failing."""
    run = Path(testbed["KUBECONFIG"]).parents[1]
    port = int(testbed["ALP_TESTBED_METRICS_PORT"])
    pid = int((run / "standins/metrics.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    demo_now = subprocess.run(
        [ROOT / "scripts/testbed", "demo"], env=_env(testbed), capture_output=True, text=True, timeout=180
    )
    assert demo_now.returncode == 1 and "Traceback" not in demo_now.stderr
    assert "the metrics stand-in is not running: scripts/testbed up" in demo_now.stderr
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", port))
    holder.listen()
    release = threading.Timer(3, holder.close)
    release.start()
    try:
        up = subprocess.run(
            [ROOT / "scripts/testbed", "up"], env=_env(testbed), capture_output=True, text=True, timeout=180
        )
        assert up.returncode == 0, up.stderr
        assert f"waiting for port(s) {port} to be free for the metrics stand-in" in up.stderr
        status = subprocess.run([ROOT / "scripts/testbed", "status"], env=_env(testbed), capture_output=True, text=True)
        assert re.search(rf"^metrics\s+up\s+127\.0\.0\.1:{port}$", status.stdout, re.M), status.stdout
    finally:
        release.join()
        seed(testbed)  # the restarted stand-in serves nothing until the demo loads it again


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_bot_demo_stopped_by_a_signal_stops_its_bot_and_says_where_the_calls_are(testbed, seeded, sig):
    """Ctrl-C, a closed terminal or a kill: no traceback, and no alp-bot left holding its port."""
    proc = subprocess.Popen(
        [ROOT / "scripts/run", "bot", "--demo"],
        cwd=ROOT,
        env=_no_targets(testbed),
        stdin=subprocess.PIPE,  # kept open: the demo waits for commands
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("/alp check kafka-lag"):
                break
        where = re.search(r"alp-bot on http://127\.0\.0\.1:(\d+)/", "".join(lines))
        assert where, "".join(lines)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err, err
    assert "stopped; the calls are in" in out
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(where.group(1))), timeout=2).close()


def test_testbed_up_restarts_a_stand_in_running_older_code(testbed, seeded):
    """After a pull, `up` restarts the stand-ins on the new scripts/world/standins.py (a running one
    kept serving the old code: new endpoints answered 404), and leaves current ones alone."""
    standins = Path(testbed["KUBECONFIG"]).parents[1] / "standins"
    (standins / "metrics.code").write_text("older\n")
    pids = {role: (standins / f"{role}.pid").read_text() for role in ("kubelet", "metrics")}
    try:
        up = subprocess.run(
            [ROOT / "scripts/testbed", "up"], env=_env(testbed), capture_output=True, text=True, timeout=180
        )
        assert up.returncode == 0, up.stderr
        assert "restarting the metrics stand-in: scripts/world/standins.py changed" in up.stderr
        assert "kubelet stand-in" not in up.stderr
        assert (standins / "metrics.pid").read_text() != pids["metrics"]
        assert (standins / "kubelet.pid").read_text() == pids["kubelet"]
    finally:
        seed(testbed)  # the restarted stand-in serves nothing until the demo loads it again
