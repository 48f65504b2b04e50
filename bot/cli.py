"""`alp`: the same words as `/alp`, answered in the terminal.

Exit codes: 0 ok, 1 warning, 2 critical, 3 could not check, 64 usage error.
`--json` prints the report as JSON (see README: JSON report).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import sys

from bot.render_text import render_text
from bot.router import CheckRequest, HelpRequest, help_text, parse
from bot.settings import ConfigError, load_settings
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
    assert isinstance(request, CheckRequest)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(EXIT_USAGE)
    report = asyncio.run(run_check(request.spec, CheckContext(settings, _progress), request.params))
    print(report.to_json() if as_json else render_text(report), end="" if not as_json else "\n")
    sys.exit(report.exit_code)


if __name__ == "__main__":
    main()
