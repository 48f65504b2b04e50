"""Runbook files (`ALP_RUNBOOK_DIR`) in the bot and the terminal: `alp runbook lint|list|schema`, the
check at start (alp-bot stops with the lint output, exit 1), and the watcher that reloads a changed
directory (or on SIGHUP): a valid set replaces the old one at once, an invalid one keeps the old set
and says why in the log and on `/readyz`.

Reading and linting run in a worker thread; only the swap (commands/runbook/symptoms.py `apply`)
runs on the event loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commands.config import ChecksConfig
from commands.runbook import symptoms
from commands.runbook.load import LoadResult, Problem

log = logging.getLogger(__name__)

SCHEMA_PATH = Path(symptoms.__file__).with_name("schema.json")
EXIT_LINT = 1
EXIT_USAGE = 64  # as every terminal usage error (bot/cli.py)


def schema_json() -> str:
    """The JSON Schema of a runbook file, generated from the models (editors validate as you type)."""
    from commands.runbook.model import RunbookFile

    schema = RunbookFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "alp runbook file"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def load(directory: Path, config: ChecksConfig) -> tuple[LoadResult, list[Problem]]:
    """Read and lint a directory (the registries must hold the built-in checks and actions)."""
    import commands.catalogue  # noqa: F401  (built-in names a file must not take)

    return symptoms.read(directory, config)


def apply_at_start(config: ChecksConfig, directory: str | None) -> list[Problem]:
    """Load `directory` into the registry; the problems (nothing applied when there are any)."""
    if not directory:
        return []
    loaded, problems = load(Path(directory), config)
    if not problems:
        symptoms.apply(loaded, config, Path(directory))
    return problems


def command(args: list[str], config: ChecksConfig | None, directory: str | None, as_json: bool) -> int:
    """`alp runbook lint [DIR]`, `alp runbook list`, `alp runbook schema`: what each prints, and the exit code."""
    verb = args[0] if args else "list"
    if verb == "schema":
        print(schema_json(), end="")
        return 0
    if config is None:
        from commands.config import ChecksConfig as _Config

        config = _Config()
    if verb == "lint":
        where = args[1] if len(args) > 1 else directory
        if not where:
            print("alp: `alp runbook lint DIR` (or set ALP_RUNBOOK_DIR)", file=sys.stderr)
            return EXIT_USAGE
        loaded, problems = load(Path(where), config)
        for p in problems:
            print(p)
        if not problems:
            n = sum(len(f.content.symptoms) for f in loaded.files)
            print(f"{where}: {len(loaded.files)} file(s), {n} symptom(s): no problems", file=sys.stderr)
        return EXIT_LINT if problems else 0
    if verb == "list":
        problems = apply_at_start(config, directory)
        from commands.catalogue import current

        rows = [
            {"name": s.name, "title": s.summary, "source": symptoms.CURRENT.sources.get(s.name, "built in")}
            for s in current().checks
        ]
        if as_json:
            print(json.dumps({"symptoms": rows, "problems": [str(p) for p in problems]}, indent=2))
        else:
            width = max(len(r["name"]) for r in rows)
            for r in rows:
                print(f"{r['name']:<{width}}  {r['source']:<28}  {r['title']}")
            for p in problems:
                print(f"not loaded: {p}", file=sys.stderr)
        return EXIT_LINT if problems else 0
    print(f"alp: unknown runbook word `{verb}`: `alp runbook lint [DIR] | list | schema`", file=sys.stderr)
    return EXIT_USAGE


def fingerprint(directory: Path) -> tuple[Any, ...]:
    """What changes when a file (or a ConfigMap's `..data` link) changes: names, targets, sizes, times."""
    out: list[Any] = []
    try:
        for e in sorted(os.scandir(directory), key=lambda e: e.name):
            try:
                st = os.stat(e.path)
                out.append((e.name, os.path.realpath(e.path), st.st_size, st.st_mtime_ns))
            except OSError as err:
                out.append((e.name, str(err)))
    except OSError as err:
        out.append(("", str(err)))
    return tuple(out)


@dataclass
class RunbookWatcher:
    """Reloads `directory` when it changes (polled every `interval_s`) or on SIGHUP."""

    config: ChecksConfig
    directory: Path
    interval_s: float = 5.0
    problems: list[str] = field(default_factory=list)
    loaded_at: float | None = None
    _task: asyncio.Task[None] | None = None
    _kick: asyncio.Event = field(default_factory=asyncio.Event)

    def status(self) -> dict[str, Any]:
        """For `/readyz`: the directory, the symptoms in force, and why the last change was refused."""
        return {
            "directory": str(self.directory),
            "symptoms": sorted(n for n, s in symptoms.CURRENT.sources.items() if not s.startswith("built in")),
            "last_reload_refused": self.problems,
        }

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, self._kick.set)
        except (NotImplementedError, RuntimeError):
            pass
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def reload(self) -> bool:
        """Read and lint off the loop, then swap on it. True when the new set is in force."""
        loaded, problems = await asyncio.to_thread(load, self.directory, self.config)
        if problems:
            self.problems = [str(p) for p in problems]
            log.error("runbook files not reloaded, the previous set stays in force:\n%s", "\n".join(self.problems))
            return False
        symptoms.apply(loaded, self.config, self.directory)
        self.problems = []
        log.info("runbook files reloaded: %s", ", ".join(self.status()["symptoms"]) or "no symptoms")
        return True

    async def _run(self) -> None:
        seen = await asyncio.to_thread(fingerprint, self.directory)
        while True:
            try:
                await asyncio.wait_for(self._kick.wait(), self.interval_s)
            except TimeoutError:
                pass
            kicked = self._kick.is_set()
            self._kick.clear()
            now = await asyncio.to_thread(fingerprint, self.directory)
            if kicked or now != seen:
                seen = now
                try:
                    await self.reload()
                except Exception as err:  # a bug must not end the watcher: the old set stays, /readyz says so
                    self.problems = [f"reload failed ({type(err).__name__}); the previous set stays in force"]
                    log.exception("runbook reload failed; the previous set stays in force")
