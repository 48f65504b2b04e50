"""Parse, preview and run a declared action; failures become refusals or failed outcomes."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from pydantic import ValidationError

from commands.actions.registry import ActionContext, ActionParams, ActionSpec, Outcome, Preview
from commands.backends.errors import BackendError
from commands.masking.redact import redact
from commands.params import UsageError

log = logging.getLogger(__name__)


def find(name: str) -> ActionSpec:
    """The declared action `name` (commands/catalogue.py); UsageError with "did you mean" otherwise."""
    from commands.catalogue import current  # every declared action

    actions = current().actions
    spec = actions.get(name)
    if spec is None:
        raise UsageError(actions.unknown(name))
    return spec


def raw_params(spec: ActionSpec, words: list[str]) -> dict[str, Any]:
    """`scale user-service 4` or `scale deployment=user-service replicas=4` -> a dict."""
    out: dict[str, Any] = {}
    positional = list(spec.positional)
    for word in words:
        key, eq, value = word.partition("=")
        if eq and key:
            out[key.replace("-", "_") if key.replace("-", "_") in spec.params.model_fields else key] = value
        elif positional:
            out[positional.pop(0)] = word
        else:
            raise UsageError(f"unexpected `{word}`: `{spec.usage()}`")
    return out


def validate(spec: ActionSpec, raw: dict[str, Any]) -> ActionParams:
    try:
        return spec.params.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "parameters"
        raise UsageError(
            f"{spec.name}: {where}: {first['msg'].removeprefix('Value error, ')} (usage: `{spec.usage()}`)"
        ) from None


def why(err: BaseException) -> str:
    """What went wrong, in words an engineer reads: a backend's failure names the backend."""
    if isinstance(err, BackendError):
        named = re.search(rf"\b{re.escape(err.backend)}\b", str(err))  # a word: not KafkaConnectionError
        return str(err) if named else f"{err.backend}: {err}"
    if isinstance(err, TimeoutError):
        return "the backend did not answer in time"
    return redact(f"{type(err).__name__}: {err}")


async def preview(spec: ActionSpec, ctx: ActionContext, params: ActionParams) -> Preview:
    try:
        return await asyncio.wait_for(spec.preview(ctx, params), ctx.config.timeouts.check_s)
    except Exception as err:
        if not isinstance(err, BackendError | TimeoutError | ValueError):
            log.exception("preview of %s failed", spec.name)
        return Preview([], refusal=f"cannot preview {spec.name}: {why(err)}")


async def execute(spec: ActionSpec, ctx: ActionContext, params: ActionParams, pre: Preview) -> Outcome:
    try:
        return await asyncio.wait_for(spec.execute(ctx, params, pre), spec.timeout_s)
    except Exception as err:
        log.exception("action %s failed", spec.name)
        return Outcome(False, f"{spec.name} failed: {why(err)}")
