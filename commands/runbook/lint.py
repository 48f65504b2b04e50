"""`alp runbook lint`: what the models alone cannot see, with `FILE:LINE: message` for each.

- names: a symptom named twice, or named like a built-in target or verb (extend it instead); an
  `extend:` of a target that is not built in; a probe id twice in one symptom;
- services a symptom names that are neither configured nor added by a file;
- patterns RE2 refuses (alp runs every pattern from a file in linear time, so a backreference or
  lookaround is refused here, never at 3 a.m.);
- SQL that is not one read-only SELECT (runtime adds a READ ONLY transaction on top);
- remedies: an action not in the catalogue, a parameter the action does not take, a `when` naming no
  probe, a template naming a probe or field that gives nothing, and any template syntax beyond
  `{{probe_id.field}}` (there is nothing to inject into).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import re2
import sqlparse
from pydantic import BaseModel, ValidationError
from sqlparse import tokens as T

from commands.registry import did_you_mean
from commands.runbook.load import Loaded, Problem
from commands.runbook.model import (
    EVIDENCE_FIELDS,
    CheckProbe,
    EventsProbe,
    HttpProbe,
    LogsProbe,
    ProbeBase,
    Remedy,
    SqlProbe,
)

UNICODE_NAME = re.compile(r"\bU&[\"']", re.I)  # our own pattern, linear
TEMPLATE = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\.([a-z_]+)\s*\}\}")
TEMPLATE_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\$\{")


@dataclass(frozen=True)
class Referable:
    """What a file may refer to: built-in check targets and verbs, actions (name -> params model), services."""

    targets: frozenset[str]
    verbs: frozenset[str]
    actions: dict[str, type[BaseModel]]
    services: frozenset[str]
    check_params: dict[str, type[BaseModel]] = field(default_factory=dict)  # built-in target -> its options


def re2_error(pattern: str) -> str | None:
    """Why RE2 refuses a pattern, or None."""
    options = re2.Options()
    options.log_errors = False
    try:
        re2.compile(pattern, options)
    except re2.error as err:
        why = err.args[0] if err.args else ""
        return (why.decode(errors="replace") if isinstance(why, bytes) else str(why)) or "RE2 refuses it"
    return None


# Functions a READ ONLY transaction still lets run, which act on the server (sessions, files, settings).
SIDE_EFFECTS = (
    "pg_stat_statements_reset",
    "pg_stat_file",
    "pg_file_",
    "nextval",
    "setval",
    "pg_backup_",
    "pg_start_backup",
    "pg_stop_backup",
    "pg_wal_replay_",
    "pg_create_restore_point",
    "pg_terminate_backend",
    "pg_cancel_backend",
    "pg_reload_conf",
    "pg_rotate_logfile",
    "pg_promote",
    "pg_switch_wal",
    "pg_create_",
    "pg_drop_",
    "pg_replication_",
    "pg_logical_",
    "pg_advisory",
    "pg_try_advisory",
    "set_config",
    "dblink",
    "lo_",
    "pg_read_file",
    "pg_read_binary_file",
    "pg_ls_",
    "pg_stat_reset",
    "pg_notify",
    "pg_sleep",
    "pg_import_system_collations",
    "pg_log_backend",
)


def sql_error(query: str) -> str | None:
    """Why a query is not one read-only SELECT, or None."""
    statements = [s for s in sqlparse.parse(query) if s.token_first(skip_cm=True, skip_ws=True) is not None]
    if len(statements) != 1:
        return f"{len(statements)} statements: a probe runs exactly one SELECT"
    stmt = statements[0]
    if UNICODE_NAME.search(query):
        return 'a Unicode-escaped name (U&"…"): not accepted in a probe'
    if stmt.get_type() != "SELECT":
        kind = stmt.get_type()
        return f"not a SELECT ({kind.lower() if kind != 'UNKNOWN' else 'an unknown statement'}): a probe runs only a SELECT"
    for tok in stmt.flatten():
        if (tok.ttype in T.Keyword.DML and tok.normalized != "SELECT") or tok.ttype in T.Keyword.DDL:
            return f"`{tok.normalized}` inside the query: a probe only reads"
        if tok.ttype in T.Keyword and tok.normalized in ("INTO", "FOR UPDATE", "FOR SHARE", "LOCK"):
            return f"`{tok.normalized}`: a probe neither writes nor locks"
        if tok.ttype in T.Name or tok.ttype in T.Literal.String.Symbol:  # a name, plain or "quoted"
            name = tok.value.strip('"').lower()
            if name.startswith(SIDE_EFFECTS):
                return f"`{tok.value}` acts on the server: a probe only reads"
    return None


def _pattern_problems(probe: ProbeBase) -> list[tuple[str, str]]:
    fields: list[tuple[str, str | None]] = []
    if isinstance(probe, LogsProbe | EventsProbe):
        fields.append(("pattern", probe.pattern))
    if isinstance(probe, HttpProbe):
        fields.append(("body_pattern", probe.body_pattern))
    out = []
    for name, pattern in fields:
        if pattern is not None and (why := re2_error(pattern)):
            out.append((name, f"RE2 refuses this pattern ({why}); alp runs patterns in linear time only"))
    if isinstance(probe, SqlProbe) and (why := sql_error(probe.query)):
        out.append(("query", why))
    return out


def _remedy_problems(remedy: Remedy, kinds: dict[str, str], cat: Referable) -> list[tuple[tuple[str | int, ...], str]]:
    out: list[tuple[tuple[str | int, ...], str]] = []
    model = cat.actions.get(remedy.action)
    if model is None:
        out.append((("action",), f"unknown action `{remedy.action}`.{did_you_mean(remedy.action, cat.actions)}"))
    for probe_id in remedy.when:
        if probe_id not in kinds:
            out.append((("when",), f"`{probe_id}` is not a probe of this symptom.{did_you_mean(probe_id, kinds)}"))
    templated = set()
    for key, value in remedy.params.items():
        if not isinstance(value, str):
            continue
        rest = TEMPLATE.sub("", value)
        if TEMPLATE_SYNTAX.search(rest):
            out.append((("params", key), "only `{{probe_id.field}}` may be templated: nothing else is evaluated"))
        for probe_id, fld in TEMPLATE.findall(value):
            templated.add(key)
            kind = kinds.get(probe_id)
            if kind is None:
                out.append((("params", key), f"`{{{{{probe_id}.{fld}}}}}` names no probe of this symptom"))
            elif fld not in EVIDENCE_FIELDS[kind]:
                given = ", ".join(sorted(EVIDENCE_FIELDS[kind]))
                out.append((("params", key), f"a {kind} probe gives no `{fld}` (it gives: {given})"))
    if model is not None and not out:
        fixed = {k: v for k, v in remedy.params.items() if k not in templated}
        try:  # values given as they are must already be valid; templated ones are checked when offered
            model.model_validate({**{n: _sample(model, n) for n in templated}, **fixed})
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            where = ".".join(str(x) for x in first["loc"])
            hint = did_you_mean(where, model.model_fields) if first["type"] == "extra_forbidden" else ""
            msg = str(first["msg"]).removeprefix("Value error, ")
            out.append((("params", *first["loc"]), f"`{remedy.action}` {where or 'parameters'}: {msg}.{hint}"))
    return out


def _sample(model: type[BaseModel], name: str) -> object:
    """A placeholder for a templated value, of the type the action's field wants."""
    f = model.model_fields.get(name)
    ann = str(f.annotation) if f is not None else "str"
    return 1 if "int" in ann else "x"


def lint(files: Iterable[Loaded], cat: Referable) -> list[Problem]:
    """Every reference problem across the loaded files, in file order."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    files = list(files)
    services = set(cat.services) | {s.name for f in files for s in f.content.services}
    for f in files:
        name = str(f.path)

        def add(loc: tuple[str | int, ...], msg: str, f: Loaded = f, name: str = name) -> None:
            problems.append(Problem(name, f.line(*loc), msg))

        for i, s in enumerate(f.content.symptoms):
            at: tuple[str | int, ...] = ("symptoms", i)
            if s.name in cat.targets:
                add((*at, "name"), f"`{s.name}` is built in: add to it with `extend: [{{target: {s.name}, …}}]`")
            elif s.name in cat.verbs:
                add((*at, "name"), f"`{s.name}` is one of alp's words (`/alp {s.name}`): choose another name")
            elif s.name in seen:
                add((*at, "name"), f"symptom `{s.name}` is already defined at {seen[s.name]}")
            else:
                seen[s.name] = f"{name}:{f.line(*at, 'name')}"
            for j, svc in enumerate(s.services):
                if svc not in services:
                    add((*at, "services", j), f"unknown service `{svc}`.{did_you_mean(svc, services)}")
            problems.extend(_probe_and_remedy_problems(f, name, at, s.probes, s.remedies, cat))
        for i, e in enumerate(f.content.extend):
            at = ("extend", i)
            if e.target not in cat.targets:
                add((*at, "target"), f"`{e.target}` is not a built-in target.{did_you_mean(e.target, cat.targets)}")
            problems.extend(_probe_and_remedy_problems(f, name, at, e.probes, e.remedies, cat))
    return problems


def _probe_and_remedy_problems(
    f: Loaded,
    name: str,
    at: tuple[str | int, ...],
    probes: Sequence[ProbeBase],
    remedies: Sequence[Remedy],
    cat: Referable,
) -> list[Problem]:
    out: list[Problem] = []
    kinds: dict[str, str] = {}
    for j, p in enumerate(probes):
        kind = p.kind
        svc = getattr(p, "service", None) if kind in ("http", "tcp") else None
        allowed = cat.services | ({"postgres", "redis", "kafka"} if kind == "tcp" else set())
        if svc is not None and svc not in allowed:
            why = f"unknown service `{svc}`.{did_you_mean(svc, allowed)}"
            out.append(Problem(name, f.line(*at, "probes", j, "service"), why))
        if p.id in kinds:
            out.append(Problem(name, f.line(*at, "probes", j, "id"), f"probe id `{p.id}` is used twice"))
        kinds[p.id] = kind
        if isinstance(p, CheckProbe):
            if at[0] == "extend":
                why = "a `check` probe cannot extend a built-in target (a target checking itself never ends)"
                out.append(Problem(name, f.line(*at, "probes", j, "kind"), why))
            else:
                out += _check_probe_problems(f, name, (*at, "probes", j), p, cat)
        for field_name, msg in _pattern_problems(p):
            out.append(Problem(name, f.line(*at, "probes", j, field_name), msg))
    for k, r in enumerate(remedies):
        for loc, msg in _remedy_problems(r, kinds, cat):
            out.append(Problem(name, f.line(*at, "remedies", k, *loc), msg))
    return out


def _check_probe_problems(
    f: Loaded, name: str, at: tuple[str | int, ...], p: CheckProbe, cat: Referable
) -> list[Problem]:
    params = cat.check_params.get(p.target)
    if params is None:
        why = f"`{p.target}` is not a built-in target.{did_you_mean(p.target, cat.check_params)}"
        return [Problem(name, f.line(*at, "target"), why)]
    try:
        params.model_validate(p.options)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(x) for x in first["loc"])
        return [Problem(name, f.line(*at, "options", *first["loc"]), f"`{p.target}` option {where}: {first['msg']}")]
    return []
