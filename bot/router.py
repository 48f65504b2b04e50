"""Parse `/alp <verb> <args>` (or `alp <verb> <args>` in a terminal) into a typed request.

Pure parsing against the registry: no Slack, no backends. Every mistake becomes a
`UsageError` whose message is what the user sees, with the closest valid names.
"""

from __future__ import annotations

import difflib
import shlex
from dataclasses import dataclass

from pydantic import BaseModel

from commands.params import UsageError, validate_params
from commands.registry import CHECKS, CheckSpec, Registry

VERBS = {  # verb: (usage, what it does)
    "help": ("help [target]", "this message, or the options of one check"),
    "health": ("health", "the runbook's health checks, all at once"),
    "check": ("check <target> [--option value]", "one runbook symptom"),
}


@dataclass(frozen=True)
class HelpRequest:
    topic: str | None = None


@dataclass(frozen=True)
class CheckRequest:
    spec: CheckSpec
    params: BaseModel

    @property
    def target(self) -> str:
        return self.spec.name


Request = HelpRequest | CheckRequest


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=3, cutoff=0.4)
    return f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""


def parse(text: str, registry: Registry = CHECKS) -> Request:
    """Turn the words after `/alp` into a request, or raise UsageError."""
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise UsageError(f"could not read that: {err}") from None
    if not words:
        return HelpRequest()
    verb, args = words[0].lower(), words[1:]
    if verb in ("help", "--help", "-h"):
        return HelpRequest(args[0] if args else None)
    if verb == "health":
        return _check("health", args, registry)
    if verb == "check":
        if not args:
            raise UsageError(f"`check` needs a target: {', '.join(registry.names())}")
        return _check(args[0].lower(), args[1:], registry)
    if registry.get(verb):  # `/alp kafka-lag` is a forgivable shorthand for `check kafka-lag`
        return _check(verb, args, registry)
    raise UsageError(f"unknown command `{verb}`.{_did_you_mean(verb, [*VERBS, *registry.names()])}")


def _check(target: str, args: list[str], registry: Registry) -> CheckRequest:
    spec = registry.get(target)
    if spec is None:
        hint = _did_you_mean(target, registry.names())
        raise UsageError(
            f"unknown check target `{target}`.{hint} Targets: {', '.join(registry.names())}"
        )
    return CheckRequest(spec, validate_params(spec.params, args))


def help_text(topic: str | None = None, registry: Registry = CHECKS, prog: str = "/alp") -> str:
    """Usage from the registry: the whole list, or one target's options."""
    if topic:
        spec = registry.get(topic.removeprefix("check ").strip())
        if spec is None:
            return f"No help topic `{topic}`.{_did_you_mean(topic, registry.names())}"
        lines = [f"`{prog} {spec.usage()}`", spec.summary, f"Runbook: {spec.runbook}"]
        lines += [f"  {line}" for line in spec.options_help()]
        return "\n".join(lines)
    lines = [f"Usage: `{prog} <command>`"]
    lines += [f"  `{prog} {usage}`: {what}" for usage, what in VERBS.values()]
    lines.append("Check targets:")
    lines += [f"  `{spec.name}`: {spec.summary}" for spec in registry]
    lines.append(f"`{prog} help <target>` shows a target's options.")
    return "\n".join(lines)
