"""alp's processes as the tests start them: `alp-bot` over HTTP on loopback (`BotProcess`), one whose
log is read (`LoggedBot`), the `alp` terminal command (`alp`); where the test bed is (`testbed_env`)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

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
    """A real `alp-bot` process, reached over HTTP on loopback.

    Its log (stderr) always goes to a file, `log_path` or a temporary one: a pipe nobody reads fills at
    64 KiB and then blocks the bot at its next log line (its HTTP server stops answering). After the
    "listening" line, stdout is drained by a thread for the same reason. `BotProcess.live` holds the
    processes started and not yet stopped: tests/conftest.py stops those a test started and left running."""

    live: ClassVar[set[BotProcess]] = set()

    def __init__(self, env: dict[str, str], log_path: Path | None = None) -> None:
        self.env = env
        self.log_path = log_path  # stderr (the bot's log) goes there when set
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> BotProcess:
        self.port = free_port()
        env = {**os.environ, **self.env, "ALP_HTTP_PORT": str(self.port), "ALP_HTTP_HOST": "127.0.0.1"}
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="alp-bot-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.server"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        BotProcess.live.add(self)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"alp-bot did not start: {self.log_path.read_text()}")
        assert json.loads(line)["event"] == "listening"
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # drained: never a full pipe
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        BotProcess.live.discard(self)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


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
    BotProcess.live.discard(bot)
