"""A configuration that cannot be read, in words: what `load_settings` prints before `alp` or
alp-bot exits (exit 64 for `alp`), never a traceback.

- an unknown key (models that forbid extra keys, e.g. `[[oncall.schedules]]`) names the closest
  key of its table ("Did you mean"), or the enclosing table it belongs to (a layer's `time_zone`);
- an environment value that is not JSON (`ALP_ONCALL__SCHEDULES='[{…'`) names the variable and
  where the JSON stops;
- a TOML file that does not parse names the file, the line and the column (tomllib's message);
- a ladder rung set to a schedule that is not configured (`…PRIMARY_SCHEDULE=devopz`) names the
  closest schedule: a rung never falls back to its fixed handle because of a typo.
"""

from __future__ import annotations

import json
import os
import typing
from typing import Any

from pydantic import BaseModel, ValidationError


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models inside an annotation (`list[Layer]`, `Schedule | None`, …)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models(a)]


def _tables(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[tuple[str, type[BaseModel]]]:
    """The models along `loc` (list indexes skipped), outermost first, each with its key."""
    out: list[tuple[str, type[BaseModel]]] = [("", root)]
    model = root
    for part in loc:
        if not isinstance(part, str):
            continue
        field = model.model_fields.get(part)
        found = _models(field.annotation) if field is not None else []
        if not found:
            break
        model = found[0]
        out.append((part, model))
    return out


def unknown_key(root: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """Why the key at the end of `loc` is refused: its closest known key, or the table it belongs to."""
    from commands.registry import did_you_mean

    key = str(loc[-1])
    tables = _tables(root, loc[:-1])
    _, model = tables[-1]
    close = did_you_mean(key, model.model_fields)
    if close:
        return f"unknown key `{key}`.{close}"
    for name, outer in reversed(tables[:-1]):
        if key in outer.model_fields and outer is not root:
            here = tables[-1][0]
            return f"`{key}` is a key of the {'schedule' if name == 'schedules' else name}, not of a {here.rstrip('s')}"
    return f"unknown key `{key}` (keys here: {', '.join(model.model_fields)})"


def validation_lines(err: ValidationError, root: type[BaseModel]) -> list[str]:
    """One line per problem, `field.path: message (got …)`."""
    lines = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  {field}: {unknown_key(root, tuple(e['loc']))}")
        else:
            lines.append(f"  {field}: {e['msg']} (got {e.get('input')!r})")
    return lines


def env_json_problem(field: str, prefix: str = "ALP_") -> str:
    """Which `ALP_<FIELD>…` variable is not JSON, and where it stops (pydantic-settings only says
    "error parsing value for field")."""
    head = f"{prefix}{field}".upper()
    for name, value in sorted(os.environ.items()):
        if not name.upper().startswith(head) or value.lstrip()[:1] not in ("[", "{"):
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError as err:
            return f"alp: {name}: not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
    return f"alp: the environment's value for `{field}` ({head}…) cannot be read: it must be JSON"


def toml_problem(path: str, err: Exception) -> str:
    """tomllib's message names the line and column."""
    return f"alp: ALP_CONFIG={path}: not valid TOML: {err}"


def rung_schedule_lines(rungs: BaseModel, names: list[str], at: str = "escalation.oncall") -> list[str]:
    """One line per rung whose schedule setting (every `*_schedule` field of `rungs`, e.g.
    `primary_schedule`) was set to a schedule not among `names`. A default left alone is used only
    when configured (README), and '' pages no schedule: neither is refused."""
    from commands.registry import did_you_mean

    lines = []
    for field in type(rungs).model_fields:
        value = getattr(rungs, field)
        if not field.endswith("_schedule") or field not in rungs.model_fields_set or not value or value in names:
            continue
        known = f" (schedules: {', '.join(names)})" if names else " (no schedule is configured: `[[oncall.schedules]]`)"
        lines.append(f"  {at}.{field}: no schedule `{value}`{known}.{did_you_mean(value, names)}")
    return lines
