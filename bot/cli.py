"""`alp`: the same words as `/alp`, answered in the terminal.

Exit codes: 0 ok, 1 warning, 2 critical, 3 could not check, 64 usage error.
`--json` prints the report as JSON (see README: JSON report).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import shlex
import sys
from typing import TYPE_CHECKING

from bot.check_context import changes_since, check_context
from bot.render.escape import ZWSP, terminal
from bot.render.report_text import render_text
from bot.settings import ConfigError, Settings, load_settings
from commands.masking.redact import RedactingFilter, redact_data
from commands.params import UsageError
from commands.runner import run_check
from commands.runtime.cpu import in_threads

if TYPE_CHECKING:
    from bot.router import AuditCommand, DoCommand, IncidentCommand
    from commands.report import Report

EXIT_USAGE = 64
EXIT_PIPE = 128 + 13  # SIGPIPE: the reader of our output went away (`alp … | head`)


async def _progress(probe: str, state: str) -> None:
    if sys.stderr.isatty():
        print(f"  … {probe}: {state}", file=sys.stderr)


_SELF_CONTAINED = ("kafka-lag",)  # checks whose module needs no other check module


def _fast_check(args: list[str], as_json: bool, chart: str | None) -> bool:
    """`alp check <target> [--options]` for a self-contained target with a package of its own name
    (commands/checks/kafka_lag/): imports that one check instead of every check and action
    (the router's imports are most of a terminal run). False: take the general path, which reads the
    catalogue (commands/catalogue.py): always when runbook files are configured (they may extend the
    target). The one reader of a raw registry besides the catalogue: importing the catalogue is
    importing every check, which this path exists to avoid."""
    import importlib.util
    from pathlib import Path

    import commands

    if len(args) < 2 or args[0] != "check" or args[1] not in _SELF_CONTAINED or "--incident" in args:
        return False
    try:
        settings = load_settings()
    except ConfigError:
        return False  # the general path explains the mistake
    if settings.runbook_dir:  # files may extend the target: the catalogue in force (commands/catalogue.py) says
        return False
    name = args[1].replace("-", "_")
    package = Path(commands.__file__).parent / "checks" / name
    path = package / "__init__.py"
    found = (
        importlib.util.spec_from_file_location(
            f"commands.checks.{name}", path, submodule_search_locations=[str(package)]
        )
        if path.is_file()
        else None
    )
    if found is None or found.loader is None:
        return False
    module = importlib.util.module_from_spec(found)
    sys.modules[found.name] = module  # loaded alone: the package would import every check
    found.loader.exec_module(module)
    import commands.changes  # its report hook: recent changes on a critical report
    from commands.params import validate_params
    from commands.registry import CHECKS

    spec = CHECKS.get(args[1])  # as the package loaded alone declared it: no runbook file changes it here
    if spec is None:
        return False
    try:
        params = validate_params(spec.params, args[2:])
    except UsageError:
        return False  # the general path explains the mistake
    report = asyncio.run(run_check(spec, check_context(settings, _progress), params))
    print(report.to_json() if as_json else render_text(report), end="" if not as_json else "\n")
    if chart is not None:
        _write_chart(report, chart)
    sys.exit(report.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Console script `alp`. Output into a pipe whose reader has gone (`alp … | head -3`) ends it
    quietly with EXIT_PIPE, the status of a command stopped by SIGPIPE; a BrokenPipeError of any
    other file (a socket) is not mistaken for it."""
    try:
        try:
            _main(argv)
        finally:
            if sys.stdout is not None:
                sys.stdout.flush()  # what print() buffered meets the closed pipe here, not at exit
    except BrokenPipeError:
        if not _quiet_closed_streams():
            raise
        sys.exit(EXIT_PIPE)


def _quiet_closed_streams() -> bool:
    """Point stdout/stderr whose pipe has no reader at /dev/null (so nothing is raised again at
    exit, the recipe of Python's `signal` docs); True if either had one."""
    import select

    closed = False
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (OSError, ValueError):
            continue
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        if any(ev & select.POLLERR for _, ev in poll.poll(0)):  # a pipe's write end whose reader closed
            os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
            closed = True
    return closed


def _main(argv: list[str] | None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    in_threads()  # one command, nothing else on its loop: no worker processes to start (commands/runtime/cpu.py)
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    yes = "--yes" in args
    args = [a for a in args if a not in ("--json", "--yes")]
    chart = _pop_option(args, "--chart")
    if args[:1] == ["oncall"]:  # `alp oncall week --png FILE`: the week as a picture (also `--chart FILE`)
        chart = _pop_option(args, "--png") or chart
    out = _pop_option(args, "--out") if args[:1] == ["graph"] else None
    if args[:1] == ["runbook"]:
        sys.exit(_runbook(args[1:], as_json))
    if _fast_check(args, as_json, chart):
        return
    import commands.catalogue  # noqa: F401  (every check target, step and action)

    _load_runbook_files()
    from bot.router import (
        AuditCommand,
        CheckCommand,
        HelpCommand,
        IncidentCommand,
        OncallCommand,
        graph_request,
        help_text,
        parse,
    )
    from bot.router import DoCommand as _DoRequest

    try:
        # `graph` takes PromQL as typed: the shell already removed the quotes around it
        request = (
            graph_request(" ".join(args[1:]), strip_quotes=False) if args[:1] == ["graph"] else parse(shlex.join(args))
        )
    except UsageError as err:
        if args[:1] == ["oncall"]:  # its one rule of exit codes and --json (bot/oncall/cli.py)
            from bot.oncall.cli import usage_error

            sys.exit(usage_error(str(err), as_json))
        print(f"alp: {terminal(str(err))}\n`alp help` lists every command.", file=sys.stderr)  # not 5 k of help
        sys.exit(EXIT_USAGE)
    if isinstance(request, HelpCommand):
        print(_plain(help_text(request.topic, prog="alp")))
        return
    try:
        settings = load_settings()
    except ConfigError as err:
        if isinstance(request, OncallCommand):  # its one rule of exit codes and --json (bot/oncall/cli.py)
            from bot.oncall.cli import config_error

            sys.exit(config_error(str(err), as_json))
        print(err, file=sys.stderr)
        sys.exit(EXIT_USAGE)
    if isinstance(request, OncallCommand):
        from bot.oncall.cli import run_oncall

        sys.exit(run_oncall(request, settings, as_json, yes, chart))
    if isinstance(request, IncidentCommand | _DoRequest | AuditCommand):
        sys.exit(_with_state_store(request, settings, as_json, yes))
    assert isinstance(request, CheckCommand)
    report = asyncio.run(
        run_check(
            request.spec,
            check_context(settings, _progress),
            request.params,
        )
    )
    if report.data.get("usage_error"):  # malformed words found by running them (commands/registry.CheckResult)
        print(f"alp: {terminal(str(report.redacted().data['usage_error']))}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    print(report.to_json() if as_json else render_text(report, request.show_all), end="" if not as_json else "\n")
    if chart is not None:
        _write_chart(report, chart)
    if out is not None:
        _write_graph(report, out)
    sys.exit(report.exit_code)


def _write_png(png: bytes, path: str) -> None:
    """Write a chart where `--chart`/`--out` said, saying where (or why not) on stderr."""
    try:
        with open(path, "wb") as fh:
            fh.write(png)
    except OSError as err:
        print(f"alp: cannot write the chart to {path}: {err}", file=sys.stderr)
        return
    print(f"chart: {path}", file=sys.stderr)


def _write_graph(report: Report, path: str) -> None:
    """`alp graph … --out FILE.png`: the graph's chart as PNG."""
    from commands.graph.chart import graph_png

    png = graph_png(report.data)
    if png is None:
        print("alp: no chart written: no series to draw", file=sys.stderr)
        return
    _write_png(png, path)


def _settings_or_none() -> Settings | None:
    try:
        return load_settings()
    except ConfigError:
        return None  # said where the settings are needed


def _runbook(args: list[str], as_json: bool) -> int:
    """`alp runbook lint [DIR] | list | schema` (bot/runbook.py)."""
    from bot.runbook import command

    settings = _settings_or_none()
    return command(args, settings, settings.runbook_dir if settings else os.environ.get("ALP_RUNBOOK_DIR"), as_json)


def _load_runbook_files() -> None:
    """Symptoms from ALP_RUNBOOK_DIR join the check targets; a directory that does not lint is said
    (on stderr, each problem with its file and line) and the built-in targets still answer."""
    settings = _settings_or_none()
    if settings is None or not settings.runbook_dir:
        return
    from bot.runbook import apply_at_start

    problems = apply_at_start(settings, settings.runbook_dir)
    if problems:
        print(f"alp: runbook files in {settings.runbook_dir} not loaded (`alp runbook lint`):", file=sys.stderr)
        for p in problems[:20]:
            print(f"  {terminal(str(p))}", file=sys.stderr)


def _with_state_store(
    request: IncidentCommand | DoCommand | AuditCommand, settings: Settings, as_json: bool, yes: bool
) -> int:
    """`alp incident|do|audit`: the exit code; a state store that cannot be reached is said, not a traceback."""
    import sqlalchemy as sa

    from bot.router import DoCommand as _DoRequest
    from bot.router import IncidentCommand as _IncidentRequest
    from escalation.state.db import StateStoreError, state_store_error

    try:
        if isinstance(request, _IncidentRequest):
            return asyncio.run(_incident(request, settings, as_json))
        if isinstance(request, _DoRequest):
            return asyncio.run(_do(request, settings, yes))
        return asyncio.run(_audit(request, settings))
    except StateStoreError as err:
        print(f"alp: {terminal(str(err))}", file=sys.stderr)
    except sa.exc.SQLAlchemyError as err:
        print(f"alp: {terminal(str(state_store_error(err, settings.state_url, 'answer')))}", file=sys.stderr)
    return 1


async def _audit(request: AuditCommand, settings: Settings) -> int:
    """`alp audit [N]`: the latest audit records, parameters and results masked."""
    from escalation.state.audit import AuditLog

    for r in await AuditLog.latest_of(settings.state_url, request.n):
        params = json.dumps(redact_data(r["params"]), ensure_ascii=False)
        print(terminal(f"{r['at']:%Y-%m-%d %H:%M:%S} {r['actor']} {r['event']} {r['action']} {params} {r['result']}"))
    return 0


def _pop_option(args: list[str], name: str) -> str | None:
    """Remove `name VALUE` (or `name=VALUE`) from args; its value, or None."""
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            value = args[i + 1]
            del args[i : i + 2]
            return value
        if a.startswith(name + "="):
            del args[i]
            return a.split("=", 1)[1]
    return None


def _write_chart(report: Report, path: str) -> None:
    """`--chart FILE`: the report's lag chart as PNG (kafka-lag: groups that are not OK)."""
    from commands.checks.kafka_lag.chart import lag_chart_png

    png = lag_chart_png(report.data)
    if png is None:
        print(f"alp: no chart written: {report.target} has no series to draw (every group OK?)", file=sys.stderr)
        return
    _write_png(png, path)


async def _do(request: DoCommand, settings: Settings, yes: bool) -> int:
    """`alp do …`: preview; with --yes, run it through the same flow as Slack (bot/remediation/terminal.py)."""
    from bot.remediation.terminal import do

    return await do(request.action, request.raw, settings, yes)


_OWN_MARKUP = re.compile(f"{ZWSP}[*`]{ZWSP}|[*`]")


def _plain(text: str) -> str:
    """Slack mrkdwn to terminal text: the bot's own `*` and backticks dropped, foreign ones (which
    `bot.render.escape.escape` wrapped in zero-width spaces) kept, escaped `&<>` shown as themselves."""
    out = _OWN_MARKUP.sub(lambda m: m[0][1] if len(m[0]) == 3 else "", text)
    return html.unescape(out.replace(ZWSP, ""))


async def _incident(request: IncidentCommand, settings: Settings, as_json: bool = False) -> int:
    """`alp incident …` against the state store; the running bot pages and announces."""
    if request.sub == "list" and as_json:
        from escalation.incident_json import incidents_json

        print(await incidents_json(settings.state_url))
        return 0
    from escalation.ladder.engine import Escalator
    from escalation.postmortem import postmortem_markdown
    from escalation.terminal import TerminalIncidentNotifier

    if request.sub == "open" and request.priority is None:
        print("alp: `alp incident open <P0|P1|P2> <summary>`", file=sys.stderr)
        return EXIT_USAGE
    from commands.changes import incident_changes_hook

    esc = Escalator.connect(
        settings.state_url,
        settings.escalation,
        TerminalIncidentNotifier(),
        recent_changes=incident_changes_hook(settings, changes_since),
    )
    await esc.start(lead=False)
    try:
        if request.sub == "postmortem":
            inc = await esc.get(request.incident or 0)
            if inc is None:
                print(f"alp: no incident {request.incident}", file=sys.stderr)
                return 1
            print(terminal(postmortem_markdown(inc, await esc.timeline(inc.id), await esc.recent_changes(inc))))
            return 0
        from bot.render.incident_text import handle_incident_command

        reply = await handle_incident_command(
            esc, request, settings.escalation.incident_channel.lstrip("#"), os.environ.get("USER", "terminal"), None
        )
        print(terminal(_plain(reply or "done")))
        return 0
    finally:
        await esc.stop()
        await esc.close()


if __name__ == "__main__":
    main()
