"""alp's processes as the tests start them: `alp-bot` over HTTP on loopback (`BotProcess`), one whose
log is read (`LoggedBot`), the `alp` terminal command (`alp`); where the test bed is (`testbed_env`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def testbed_env() -> dict[str, str]:
    """Targets from the environment, else from `scripts/testbed env`."""
    if os.environ.get("ALP_KAFKA_BOOTSTRAP"):
        return {k: v for k, v in os.environ.items() if k.startswith("ALP_") or k == "KUBECONFIG"}
    out = subprocess.run([ROOT / "scripts/testbed", "env"], capture_output=True, text=True, check=True)
    env = {}
    for line in out.stdout.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip("'")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def wait_until(pred, timeout: float = 20, interval: float = 0.1):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


class LoggedBot:
    def __init__(self, proc: BotProcess, log: Path) -> None:
        self.proc, self.log = proc, log
        self.url = proc.url

    def text(self) -> str:
        return self.log.read_text()


def alp(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def wait(pred, timeout: float = 15):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def kill(bot: BotProcess) -> None:
    assert bot.proc is not None
    bot.proc.send_signal(signal.SIGKILL)
    bot.proc.wait()
