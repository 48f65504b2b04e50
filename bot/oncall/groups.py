"""Slack user groups for `escalation.oncall.groups`: `usergroups.users.list` / `.update`, with
Slack's refusals turned into what to change (a scope, a workspace setting, a plan)."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from escalation.oncall.groups import GroupRefused

ADVICE = {
    "missing_scope": "the app lacks the `usergroups:write` scope: add it to the manifest and reinstall the app",
    "permission_denied": "the workspace lets only some people change user groups "
    "(Workspace settings, Permissions, User Groups): allow the app or its installer",
    "not_allowed_token_type": "user groups need the bot token (xoxb-) with `usergroups:write`",
    "paid_teams_only": "user groups need a paid Slack plan",
    "plan_upgrade_required": "user groups need a paid Slack plan",
    "no_such_subteam": "no such user group: check the schedule's `group` (an S… id)",
    "subteam_not_found": "no such user group: check the schedule's `group` (an S… id)",
    "invalid_users": "Slack refused one of the users (deactivated or from another workspace)",
    "ekm_access_denied": "the workspace's Enterprise Key Management refused the change",
}


def _refused(err: SlackApiError) -> GroupRefused:
    code = str(err.response.get("error") or "error")
    needed = err.response.get("needed")
    advice = ADVICE.get(code, f"Slack refused the change ({code})")
    if needed and code == "missing_scope":
        advice = f"the app lacks the `{needed}` scope: add it to the manifest and reinstall the app"
    return GroupRefused(code, advice)


class SlackGroups:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def members(self, group: str) -> list[str]:
        try:
            resp = await self.client.usergroups_users_list(usergroup=group)
        except SlackApiError as err:
            raise _refused(err) from None
        return [str(u) for u in resp.get("users") or []]

    async def set(self, group: str, users: list[str]) -> None:
        try:
            await self.client.usergroups_users_update(usergroup=group, users=users)
        except SlackApiError as err:
            raise _refused(err) from None
