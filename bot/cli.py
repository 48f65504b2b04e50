"""`alp`: the same words as `/alp`, answered in the terminal.

Exit codes: 0 ok, 1 warning, 2 critical, 3 could not check, 64 usage error.
`--json` prints the report as JSON (see README: JSON report).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import sys

from bot.render_text import render_text
from bot.router import CheckRequest, HelpRequest, IncidentRequest, OncallRequest, help_text, parse
from bot.settings import ConfigError, Settings, load_settings
from commands.params import UsageError
from commands.registry import CheckContext
from commands.runner import run_check

EXIT_USAGE = 64


async def _progress(probe: str, state: str) -> None:
    if sys.stderr.isatty():
        print(f"  … {probe}: {state}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    """Console script `alp`."""
    import commands.checks  # noqa: F401  (registers the check targets)

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    try:
        request = parse(shlex.join(args))
    except UsageError as err:
        print(f"alp: {err}\n\n{help_text(prog='alp')}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    if isinstance(request, HelpRequest):
        print(help_text(request.topic, prog="alp"))
        return
    try:
        settings = load_settings()
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(EXIT_USAGE)
    if isinstance(request, OncallRequest):
        from bot.incidents import oncall_text

        print(_plain(oncall_text(settings)))
        return
    if isinstance(request, IncidentRequest):
        sys.exit(asyncio.run(_incident(request, settings)))
    assert isinstance(request, CheckRequest)
    report = asyncio.run(run_check(request.spec, CheckContext(settings, _progress), request.params))
    print(report.to_json() if as_json else render_text(report), end="" if not as_json else "\n")
    sys.exit(report.exit_code)


def _plain(text: str) -> str:
    """Slack mrkdwn to terminal text."""
    return text.replace("*", "").replace("`", "")


async def _incident(request: IncidentRequest, settings: Settings) -> int:
    """`alp incident …` against the state store; the running bot pages and announces."""
    from escalation.engine import Escalator
    from escalation.postmortem import postmortem_markdown
    from escalation.store import Store
    from escalation.terminal import TerminalNotifier

    if request.sub == "open" and request.priority is None:
        print("alp: `alp incident open <P0|P1|P2> <summary>`", file=sys.stderr)
        return EXIT_USAGE
    store = Store(settings.state_url)
    esc = Escalator(store, settings.escalation, TerminalNotifier(), settings.state_url)
    await esc.start(lead=False)
    try:
        if request.sub == "postmortem":
            inc = store.get(request.incident or 0)
            if inc is None:
                print(f"alp: no incident {request.incident}", file=sys.stderr)
                return 1
            print(postmortem_markdown(inc, store.timeline(inc.id)))
            return 0
        from bot.incidents import handle_incident_command

        reply = await handle_incident_command(esc, request, settings.escalation.incident_channel.lstrip("#"),
                                              os.environ.get("USER", "terminal"), None)  # type: ignore[arg-type]
        print(_plain(reply or "done"))
        return 0
    finally:
        await esc.stop()
        store.close()


if __name__ == "__main__":
    main()
