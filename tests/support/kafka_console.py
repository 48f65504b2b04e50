"""Kafka's own console consumer (the test bed's jars) as a real member of a consumer group."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path


class ConsoleConsumer:
    """`kafka-console-consumer` running in the background; `lines` are the messages it printed."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < n:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"console consumer printed {len(self.lines)} of {n} messages")
            time.sleep(0.1)


@contextlib.contextmanager
def console_consumer(
    env: dict[str, str], topic: str, group: str, protocol: str = "consumer", **props: str
) -> Iterator[ConsoleConsumer]:
    """A live member of `group` on `protocol` ("consumer" is KIP-848, "classic" the old one)."""
    libs = Path(env["ALP_KAFKA_HOME"]) / "libs"
    extra = [a for k, v in {"group.protocol": protocol, **props}.items() for a in ("--consumer-property", f"{k}={v}")]
    cmd = [
        "java",
        "-Xshare:auto",
        "-cp",
        f"{libs}/*",
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        "--bootstrap-server",
        env["ALP_KAFKA_BOOTSTRAP"],
        "--topic",
        topic,
        "--group",
        group,
        "--from-beginning",
        *extra,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, **env}
    )
    try:
        yield ConsoleConsumer(proc)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
