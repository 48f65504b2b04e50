"""The terminal imports nothing of Slack: `alp …` runs without slack_bolt (nor slack_sdk) loaded.

Each command runs as a real `python -m bot.cli` process; at exit it writes which Slack packages
ended up in `sys.modules`.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

SLACK_PACKAGES = ("slack_bolt", "slack_sdk")
REPORT = (
    "import atexit, runpy, sys\n"
    "watched = set(sys.argv[1].split(','))\n"
    "atexit.register(lambda: sys.stderr.write('\\nLOADED:' + ','.join(sorted("
    "{m.split('.')[0] for m in sys.modules} & watched)) + '\\n'))\n"
    "sys.argv = ['alp', *sys.argv[2:]]\n"
    "runpy.run_module('bot.cli', run_name='__main__', alter_sys=True)\n"
)


def alp_loaded(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `alp ARGS`; the process and the Slack packages it had imported when it exited."""
    out = subprocess.run(
        [sys.executable, "-c", REPORT, ",".join(SLACK_PACKAGES), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    marker = [line for line in out.stderr.splitlines() if line.startswith("LOADED:")]
    assert marker, out.stderr  # the interpreter reached its exit
    return out, {m for m in marker[-1].removeprefix("LOADED:").split(",") if m}


@pytest.fixture
def state_env(testbed, tmp_path) -> dict[str, str]:
    env = {**testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db"}
    opened, _ = alp_loaded(["incident", "open", "P2", "queue", "backs", "up"], env)  # INC-1
    assert opened.returncode == 0, opened.stderr
    return env


@pytest.mark.parametrize(
    "args",
    [
        ["oncall"],
        ["incident", "open", "P1", "checkout", "slow", "--services", "auth-service"],
        ["incident", "list"],
        ["incident", "show", "1"],
        ["incident", "ack", "1"],
        ["--incident", "1", "incident", "note", "rolled", "back"],
        ["incident", "postmortem", "1"],
        ["incident", "resolve", "1"],
        ["--json", "incident", "list"],
    ],
    ids=" ".join,
)
def test_incident_and_oncall_words_import_no_slack(state_env, args):
    out, loaded = alp_loaded(args, state_env)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert not loaded, f"`alp {' '.join(args)}` imported {loaded}"


@pytest.mark.parametrize(
    "args",
    [
        ["help"],
        ["help", "kafka-lag"],
        ["help", "restart"],
        ["chek", "redis"],
        ["check", "redis"],
        ["audit", "3"],
        ["do", "restart", "no-such-deployment"],
    ],
    ids=" ".join,
)
def test_help_checks_audit_and_do_import_no_slack(testbed, tmp_path, args):
    state_env = {**testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db"}
    out, loaded = alp_loaded(args, state_env)
    assert "Traceback" not in out.stderr, out.stderr
    assert not loaded, f"`alp {' '.join(args)}` imported {loaded}"


HEAVY = (
    "kubernetes",
    "sqlalchemy",
    "escalation.state.db",
    "drain3",
    "matplotlib",
    "commands.checks.auth",
    "commands.checks",
)
LOADED_MODULES = (
    "import atexit, runpy, sys\n"
    "watched = sys.argv[1].split(',')\n"
    "atexit.register(lambda: sys.stderr.write('\\nLOADED:' + ','.join(sorted("
    "w for w in watched if w in sys.modules)) + '\\n'))\n"
    "sys.argv = ['alp', *sys.argv[2:]]\n"
    "runpy.run_module('bot.cli', run_name='__main__', alter_sys=True)\n"
)


def test_kafka_lag_in_the_terminal_loads_only_what_its_report_needs(testbed, tmp_path, unique):
    """`alp --json check kafka-lag` on a group that is fine: no Kubernetes client, no state store,
    not every check (settings read without validating the alert routes against every check)."""
    import asyncio

    from tests.support.kafka import commit, create_topic, produce

    async def caught_up() -> None:
        await create_topic(testbed["ALP_KAFKA_BOOTSTRAP"], unique, 1)
        await produce(testbed["ALP_KAFKA_BOOTSTRAP"], unique, {0: 3})
        await commit(testbed["ALP_KAFKA_BOOTSTRAP"], unique, unique, {0: 3})

    asyncio.run(caught_up())
    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db"}
    out = subprocess.run(
        [sys.executable, "-c", LOADED_MODULES, ",".join(HEAVY), "--json", "check", "kafka-lag", "--group", unique],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert '"severity": "ok"' in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    marker = [line for line in out.stderr.splitlines() if line.startswith("LOADED:")]
    loaded = {m for m in marker[-1].removeprefix("LOADED:").split(",") if m}
    assert not loaded, f"`alp --json check kafka-lag` imported {loaded}"


UNUSED_BY_REDIS = (
    "kubernetes",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "aiohttp",
    "drain3",
    "matplotlib",
    "icalendar",
    "slack_sdk",
)


@pytest.mark.parametrize("args", [["check", "redis"], ["help"], ["help", "redis"]], ids=" ".join)
def test_the_terminal_loads_no_client_its_words_do_not_use(testbed, tmp_path, args):
    """`alp check redis` talks to Redis alone, `alp help` to nothing: neither loads the Kubernetes,
    PostgreSQL or HTTP clients, the state store (SQLAlchemy, Alembic), drain3, matplotlib, Slack or the calendars
    (each a tenth to a third of a CPU second to import)."""
    env = {**os.environ, **testbed, "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db"}
    out = subprocess.run(
        [sys.executable, "-c", LOADED_MODULES, ",".join(UNUSED_BY_REDIS), "--json", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    if args[0] == "check":
        assert '"target": "redis"' in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    marker = [line for line in out.stderr.splitlines() if line.startswith("LOADED:")]
    loaded = {m for m in marker[-1].removeprefix("LOADED:").split(",") if m}
    assert not loaded, f"`alp {' '.join(args)}` imported {loaded}"


WORKERS_STARTED = (
    "import atexit, runpy, sys\n"
    "def said():\n"
    "    cpu = sys.modules.get('commands.runtime.cpu')\n"
    "    sys.stderr.write('\\nWORKERS:' + str(getattr(cpu, '_processes', None) is not None) + '\\n')\n"
    "atexit.register(said)\n"
    "sys.argv = ['alp', *sys.argv[1:]]\n"
    "runpy.run_module('bot.cli', run_name='__main__', alter_sys=True)\n"
)


def test_the_terminal_groups_log_lines_without_starting_worker_processes(testbed, kube_admin, kubelet, ns, tmp_path):
    """Worker processes keep the bot's event loop free; a terminal runs one command and nothing waits
    on its loop, so `alp logs` groups in its own process: no forkserver and worker interpreters
    importing the step's modules again (about a CPU second) for one answer."""
    from tests.support.k8s_world import make_pod

    make_pod(kube_admin, ns, "grouped-0", "grouped-service")
    kubelet.logs[(ns, "grouped-0")] = "".join(
        f"2026-12-08T00:00:{i % 60:02d}Z ERROR job {i} failed\n" for i in range(300)
    )
    env = {**os.environ, **testbed, "ALP_NAMESPACE": ns, "ALP_STATE_URL": f"sqlite:///{tmp_path}/state.db"}
    out = subprocess.run(
        [sys.executable, "-c", WORKERS_STARTED, "--json", "logs", "grouped-service"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "job <NUM> failed" in out.stdout or "job <*> failed" in out.stdout, out.stdout[-2000:] + out.stderr[-2000:]
    assert "WORKERS:False" in out.stderr, out.stderr[-2000:]
