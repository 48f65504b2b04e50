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
