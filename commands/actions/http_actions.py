"""The services' admin endpoints: warm-cache, reset-user-state, force-password-reset."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from commands.actions.registry import ActionContext, ActionParams, Outcome, Preview, Risk, action
from commands.actions.validators import StrList
from commands.backends.errors import BackendError
from commands.backends.http import AdminClient
from commands.config import service

USER_ID = r"^[\w.@:-]{1,128}$"


async def _post(ctx: ActionContext, name: str, path: str, body: object | None = None) -> Outcome:
    base = service(ctx.config, name).base_url(ctx.namespace)
    try:
        async with AdminClient(name, base, ctx.config.timeouts.probe_s * 2) as admin:
            reply = await admin.post(path, body)
    except BackendError as err:
        return Outcome(False, str(err))
    return Outcome(
        reply.ok,
        f"POST {path} -> HTTP {reply.status}",
        {},
        {"status": reply.status},
        [f"response: {reply.body}"] if reply.body else [],
    )


def _preview(line: str, target: str) -> Preview:
    return Preview([line], target=target)


class WarmParams(ActionParams):
    service: Literal["scheduler-service", "user-service"] = "scheduler-service"


async def preview_warm(ctx: ActionContext, p: WarmParams) -> Preview:
    return _preview(f"POST {service(ctx.config, p.service).base_url(ctx.namespace)}/cache/warm", f"http/{p.service}")


@action(
    "warm-cache",
    summary="ask a service to warm its Redis cache",
    runbook="curl -X POST …/cache/warm",
    risk=Risk.SAFE,
    params=WarmParams,
    preview=preview_warm,
    positional=("service",),
    verify="redis",
)
async def warm_cache(ctx: ActionContext, p: WarmParams, preview: Preview) -> Outcome:
    return await _post(ctx, p.service, "/cache/warm")


class UserParams(ActionParams):
    user: str = Field(pattern=USER_ID)


async def preview_reset_user(ctx: ActionContext, p: UserParams) -> Preview:
    return _preview(
        f"POST scheduler-service /users/{p.user}/reset-state: the user's scheduling state is rebuilt",
        f"http/scheduler-service/user/{p.user}",
    )


@action(
    "reset-user-state",
    summary="reset one user's scheduler state",
    risk=Risk.DISRUPTIVE,
    runbook="curl -X POST …/users/<id>/reset-state",
    params=UserParams,
    preview=preview_reset_user,
    positional=("user",),
    verify="algorithm",
)
async def reset_user_state(ctx: ActionContext, p: UserParams, preview: Preview) -> Outcome:
    return await _post(ctx, "scheduler-service", f"/users/{p.user}/reset-state")


class UsersParams(ActionParams):
    user_ids: StrList = Field(min_length=1, max_length=1000)


async def preview_password_reset(ctx: ActionContext, p: UsersParams) -> Preview:
    bad = [u for u in p.user_ids if not re.fullmatch(USER_ID, u)]
    if bad:
        return Preview([], refusal=f"not user ids: {bad[:5]}", target="http/auth-service/password-reset")
    return _preview(
        f"POST auth-service /admin/force-password-reset for {len(p.user_ids)} user(s): {', '.join(p.user_ids[:10])}",
        "http/auth-service/password-reset",
    )


@action(
    "force-password-reset",
    summary="force a password reset for named users",
    risk=Risk.DISRUPTIVE,
    runbook="curl -X POST …/admin/force-password-reset",
    params=UsersParams,
    preview=preview_password_reset,
    positional=("user_ids",),
)
async def force_password_reset(ctx: ActionContext, p: UsersParams, preview: Preview) -> Outcome:
    return await _post(ctx, "auth-service", "/admin/force-password-reset", {"user_ids": list(p.user_ids)})
