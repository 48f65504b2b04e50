"""`alp … | head -3`: output into a pipe whose reader has gone ends alp quietly (no
BrokenPipeError traceback, no "Exception ignored" at exit), for every command, with the exit code
of a command stopped by SIGPIPE (141, as `yes | head` reports it)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.oncall import oncall_env
from tests.support.processes import ROOT

PLATFORM = {
    "name": "platform",
    "time_zone": "America/New_York",
    "layers": [{"users": ["U0PLAT1", "U0PLAT2"], "turn": "1d", "handoff": "09:00", "start": "2026-01-01"}],
}


def alp_into_closed_pipe(env: dict[str, str], *args: str, both: bool = False) -> subprocess.CompletedProcess[str]:
    """`alp ARGS` whose stdout (and stderr too when `both`: `2>&1 | head`) is a pipe nobody reads any more."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before alp writes a byte: every write meets EPIPE
    try:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=write,
            stderr=write if both else subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "words",
    [
        ("oncall", "week"),
        ("--json", "oncall", "week"),
        ("oncall",),
        ("help",),
        ("runbook", "list"),
        ("oncall", "--at", "2200"),  # a usage error: its words go to stderr, which still works
    ],
)
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, words):
    env = {**oncall_env(f"sqlite:///{tmp_path}/s.db", [PLATFORM]), "SLACK_API_URL": "http://127.0.0.1:9"}
    out = alp_into_closed_pipe(env, *words)
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr[-1200:]
    assert "Exception ignored" not in out.stderr, out.stderr[-1200:]
    if words[-1] == "2200":
        assert out.returncode == 64 and "is not an ISO 8601 time" in out.stderr
    else:
        assert out.returncode == 141, (out.returncode, out.stderr[-800:])


def test_stdout_and_stderr_into_one_closed_pipe_end_quietly(tmp_path):
    env = {**oncall_env(f"sqlite:///{tmp_path}/s.db", [PLATFORM]), "SLACK_API_URL": "http://127.0.0.1:9"}
    out = alp_into_closed_pipe(env, "oncall", "week", both=True)
    assert out.returncode == 141, out.returncode  # a traceback would have ended it with 1 (or 120)
