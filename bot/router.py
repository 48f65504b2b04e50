"""Parse `/alp <verb> <args>` (or `alp <verb> <args>` in a terminal) into a typed request.

Pure parsing against the registry: no Slack, no backends. Every mistake becomes a
`UsageError` whose message is what the user sees, with the closest valid names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from bot.oncall.command import USAGE as ONCALL_USAGE
from bot.oncall.command import OncallCommand as OncallCommand
from bot.oncall.command import parse_oncall
from commands.actions.registry import ActionSpec
from commands.actions.runner import find, raw_params
from commands.catalogue import current
from commands.params import UsageError, validate_params
from commands.registry import CheckSpec, Registry, did_you_mean

VERBS = {  # verb: (usage, what it does)
    "help": ("help [target]", "this message, or the options of one check"),
    "health": ("health", "the runbook's health checks, all at once"),
    "check": (
        "check <target> [--option value] [--incident ID] [--all]",
        "one runbook symptom (--all lists the OK findings too)",
    ),
    "incident": (
        "incident open <P0|P1|P2> <summary> | ack | escalate | resolve | note <text> | list | "
        "show <ID> | postmortem <ID>",
        "incidents and the escalation ladder",
    ),
    "oncall": (ONCALL_USAGE, "who is on call now, until when, and next (every schedule, or one)"),
    "do": ("do <action> <args>", "a runbook remediation, previewed and confirmed first"),
    "audit": ("audit [N]", "the latest N audit records (requests, approvals, refusals, outcomes)"),
    "changes": (
        "changes [--since 6h] [--service NAME]",
        "what changed recently: rollouts, the runbook's configmaps, scaling, alp's own actions",
    ),
    "graph": (
        "graph <service|PromQL> [--since 1h]",
        "a service's request rate, errors and p95, or any PromQL, as a chart and a judged line (Prometheus)",
    ),
    "logs": (
        "logs <service> [--grep REGEX] [--since 1h] [--tail N] [--previous]",
        "a service's log lines from every pod, grouped into templates (worst and most frequent first)",
    ),
}

_ASCII_DIGITS = re.compile(r"[0-9]+")
MAX_ID = 2**63 - 1
INCIDENT_SUBS = ("open", "ack", "escalate", "resolve", "note", "list", "show", "postmortem")


@dataclass(frozen=True)
class HelpCommand:
    topic: str | None = None


@dataclass(frozen=True)
class CheckCommand:
    spec: CheckSpec
    params: BaseModel
    incident: int | None = None
    show_all: bool = False  # `--all`: list OK findings one by one instead of one count line

    @property
    def target(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class IncidentCommand:
    """`incident <sub> …`: `sub` is one of INCIDENT_SUBS; `incident` the ID given, if any."""

    sub: str
    incident: int | None = None
    priority: str | None = None
    text: str = ""
    impact: str = ""
    services: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoCommand:
    """`do <action> <words>`: raw parameters; validated (or asked for) by the action flow."""

    action: str
    raw: dict[str, Any]


@dataclass(frozen=True)
class AuditCommand:
    n: int = 20


Command = HelpCommand | CheckCommand | IncidentCommand | OncallCommand | DoCommand | AuditCommand


GRAPH = re.compile(r"\s*graph(?:\s+(.*))?", re.S | re.I)
SERVICE_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _configured_services() -> list[str]:
    """The platform's services as configured (for `graph`'s "did you mean"); the runbook's if unreadable."""
    from bot.settings import ConfigError, load_settings

    try:
        return [s.name for s in load_settings().platform.services]
    except ConfigError:
        from commands.config import PlatformSettings

        return [s.name for s in PlatformSettings().services]


SINCE = re.compile(r"(?:^|\s)--since(?:\s+|=)(\S+)\s*$")


def graph_request(rest: str, strip_quotes: bool = True) -> CheckCommand:
    """`graph <service|PromQL> [--since 1h]`: PromQL is taken as typed (quotes, braces and spaces kept).
    `strip_quotes`: Slack keeps quotes wrapped around the whole query (`/alp graph "rate(x[5m])"`) and
    they are taken off; a shell already removed its own, so what is left there is PromQL's (`'"hello"'`)."""
    spec = current().first_steps.get("graph")
    assert spec is not None
    rest = rest.strip()
    since = SINCE.search(rest)
    query = rest[: since.start()].strip() if since else rest
    if strip_quotes and len(query) >= 2 and query[0] == query[-1] and query[0] in "'\"":  # `/alp graph "rate(x[5m])"`
        query = query[1:-1].strip()
    if not query or query.startswith("--"):
        raise UsageError(
            f"`graph` needs a service or a PromQL expression first, options after it. Usage: `{VERBS['graph'][0]}`"
        )
    if re.search(r"(?:^|\s)--since\s*$", query):
        raise UsageError("`--since` needs a duration, e.g. `--since 1h`")
    if SERVICE_LIKE.fullmatch(query) and "-" in query:  # metric names have no `-`: meant as a service
        services = _configured_services()
        if query not in services:
            raise UsageError(f"`{query}` is not a configured service.{did_you_mean(query, services)}")
    raw = {"query": query, **({"since": since.group(1)} if since else {})}
    try:
        params = spec.params.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise UsageError(f"--{first['loc'][0] if first['loc'] else 'query'}: {first['msg']}") from None
    return CheckCommand(spec, params, None, show_all=True)


def parse(text: str, registry: Registry[CheckSpec] | None = None) -> Command:
    """Turn the words after `/alp` into a request, or raise UsageError. `registry`: the check
    targets (the catalogue's in force by default)."""
    registry = registry or current().checks
    graph = GRAPH.fullmatch(text)
    if graph:
        return graph_request(graph.group(1) or "")
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise UsageError(f"could not read that: {err}") from None
    if not words:
        return HelpCommand()
    words, incident = _take_incident(words)
    verb, args = words[0].lower(), words[1:]
    if verb in ("help", "--help", "-h"):
        return HelpCommand(args[0] if args else None)
    if verb == "health":
        return _check("health", args, registry, incident)
    if verb == "check":
        if not args:
            raise UsageError(f"`check` needs a target: {', '.join(registry.names())}")
        return _check(args[0].lower(), args[1:], registry, incident)
    if verb == "incident":
        return _incident(args, incident)
    if verb == "oncall":
        return parse_oncall(args)
    if verb == "do":
        if not args:
            raise UsageError(f"`do` needs an action:\n{actions_help()}")
        spec = find(args[0].lower())
        return DoCommand(spec.name, raw_params(spec, args[1:]))
    if verb == "audit":
        if args and not _ASCII_DIGITS.fullmatch(args[0]):
            raise UsageError("`audit [N]`: N is how many records to show (a number, at most 100)")
        digits = args[0].lstrip("0") or "0" if args else "20"
        return AuditCommand(min(int(digits) if len(digits) <= 4 else 100, 100))
    if verb in ("changes", "logs"):
        return _step(verb, args, incident)
    if registry.get(verb):  # `/alp kafka-lag` is a forgivable shorthand for `check kafka-lag`
        return _check(verb, args, registry, incident)
    raise UsageError(f"unknown command `{verb}`.{did_you_mean(verb, [*VERBS, *registry.names()])}")


def _take_incident(words: list[str]) -> tuple[list[str], int | None]:
    """Remove `--incident ID` (or `--incident=ID`) from anywhere in the words."""
    out: list[str] = []
    incident: int | None = None
    i = 0
    while i < len(words):
        w = words[i]
        value: str | None = None
        if w == "--incident":
            if i + 1 >= len(words):
                raise UsageError("--incident needs an incident number, e.g. --incident 12")
            value, i = words[i + 1], i + 2
        elif w.startswith("--incident="):
            value, i = w.split("=", 1)[1], i + 1
        else:
            out.append(w)
            i += 1
            continue
        incident = _incident_id(value)
    return out or ["help"], incident


def _incident_id(value: str) -> int:
    """An incident number: ASCII digits only (`isdigit()` also takes `²` and `①`), and within
    a 64-bit INTEGER, the largest id a SQL database can hold."""
    digits = value.upper().removeprefix("INC-")
    if not _ASCII_DIGITS.fullmatch(digits) or len(digits.lstrip("0")) > 19 or int(digits.lstrip("0") or "0") > MAX_ID:
        raise UsageError(f"`{value[:40]}` is not an incident number (like 12 or INC-12)")
    return int(digits.lstrip("0") or "0")


def _incident(args: list[str], incident: int | None) -> IncidentCommand:
    if not args:
        return IncidentCommand("open")  # Slack opens the form
    sub, rest = args[0].lower(), args[1:]
    if sub not in INCIDENT_SUBS:
        raise UsageError(
            f"unknown incident command `{sub}`.{did_you_mean(sub, list(INCIDENT_SUBS))} "
            f"Usage: `incident {VERBS['incident'][0].removeprefix('incident ')}`"
        )
    if sub == "open":
        if not rest:
            return IncidentCommand("open")
        priority = rest[0].upper()
        if priority not in ("P0", "P1", "P2"):
            raise UsageError(
                f"priority must be P0, P1 or P2, not `{rest[0]}` (P0: outage, now; P1: escalate in 30 min; P2: in 2 h)"
            )
        words: list[str] = []
        impact = ""
        services: tuple[str, ...] = ()
        i = 1
        while i < len(rest):
            if rest[i] in ("--impact", "--services") and i + 1 < len(rest):
                if rest[i] == "--impact":
                    impact = rest[i + 1]
                else:
                    services = tuple(x.strip() for x in rest[i + 1].split(",") if x.strip())
                i += 2
            else:
                words.append(rest[i])
                i += 1
        if not words:
            raise UsageError("`incident open P1 <summary>`: say what is wrong")
        return IncidentCommand("open", incident, priority, " ".join(words), impact, services)
    if sub in ("show", "postmortem") or (sub in ("ack", "escalate", "resolve") and rest):
        if rest:
            return IncidentCommand(sub, _incident_id(rest[0]), text=" ".join(rest[1:]))
        if incident is None:
            raise UsageError(f"`incident {sub}` needs an incident number, e.g. `incident {sub} 12`")
    return IncidentCommand(sub, incident, text=" ".join(rest))


def _check(target: str, args: list[str], registry: Registry[CheckSpec], incident: int | None = None) -> CheckCommand:
    spec = registry.get(target)
    if spec is None:
        raise UsageError(registry.unknown(target))
    show_all = "--all" in args
    if "all" not in spec.params.model_fields:  # a check with its own `all` option (kafka-lag) reads it
        args = [a for a in args if a != "--all"]
    return CheckCommand(spec, validate_params(spec.params, args), incident, show_all)


def _step(verb: str, args: list[str], incident: int | None) -> CheckCommand:
    """`changes [--option value]` and `logs <service> [--option value]`."""
    spec = current().first_steps.get(verb)
    assert spec is not None
    if verb == "logs":
        if not args or args[0].startswith("--"):
            raise UsageError(f"`logs` needs a service, e.g. `logs user-service`. Usage: `{VERBS['logs'][0]}`")
        args = ["--service", args[0], *args[1:]]
    # the OK findings of changes and logs are the answer itself: never folded into a count
    return CheckCommand(spec, validate_params(spec.params, args), incident, show_all=True)


def _action_line(prog: str) -> Callable[[ActionSpec], str]:
    return lambda spec: f"  `{prog} {spec.usage()}` ({spec.risk.value}): {spec.summary}"


def actions_help(prog: str = "/alp") -> str:
    return "\n".join(current().actions.section(_action_line(prog)))


def help_text(topic: str | None = None, registry: Registry[CheckSpec] | None = None, prog: str = "/alp") -> str:
    """Usage from the catalogue in force: the whole list, or one target's options."""
    registry = registry or current().checks
    actions = current().actions
    if topic and actions.get(topic.removeprefix("do ").strip()):
        a = actions.get(topic.removeprefix("do ").strip())
        assert a is not None
        fields = [
            f"  {n}{'' if f.is_required() else ' (optional)'}: {f.description or ''}"
            for n, f in a.params.model_fields.items()
        ]
        return "\n".join(
            [f"`{prog} {a.usage()}`", f"{a.summary} (risk: {a.risk.value})", f"Runbook: {a.runbook}", *fields]
        )
    if topic and topic.strip() in ("changes", "logs"):
        step = current().first_steps.get(topic.strip())
        assert step is not None
        lines = [f"`{prog} {VERBS[step.name][0]}`", step.summary, f"Runbook: {step.runbook}"]
        return "\n".join(lines + [f"  {line}" for line in step.options_help()])
    if topic and topic.strip().lower() in VERBS and not registry.get(topic.strip().lower()):
        verb = topic.strip().lower()  # `help check`, `help incident`: the command's usage, not a guess
        usage, what = VERBS[verb]
        lines = [f"`{prog} {usage}`: {what}"]
        if verb == "check":
            lines += registry.section(lambda spec: f"  `{spec.name}`: {spec.summary}", "Check targets:")
        if verb == "do":
            lines.append(actions_help(prog))
        return "\n".join(lines)
    if topic:
        spec = registry.get(topic.removeprefix("check ").strip())
        if spec is None:
            return f"No help topic `{topic}`.{did_you_mean(topic, registry.names())}"
        lines = [f"`{prog} {spec.usage()}`", spec.summary, f"Runbook: {spec.runbook}"]
        lines += [f"  {line}" for line in spec.options_help()]
        return "\n".join(lines)
    lines = [f"Usage: `{prog} <command>`"]
    lines += [f"  `{prog} {usage}`: {what}" for usage, what in VERBS.values()]
    lines += registry.section(lambda spec: f"  `{spec.name}`: {spec.summary}", "Check targets:")
    lines += current().actions.section(_action_line(prog), "Remediations (previewed, confirmed, audited):")
    lines.append(f"`{prog} help <target>` shows a target's options.")
    return "\n".join(lines)
