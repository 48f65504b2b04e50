"""The evidence of `alp check oncall` (declared in commands/checks/oncall.py): coverage gaps in the next 14 days per schedule,
user groups that differ from the schedule, people on call who are deactivated or cannot be DMed,
calendars that failed to read or name people no one matches, refused group syncs, and the pager
webhook. Every verdict rests on the evidence it names; what could not be seen is UNKNOWN.

Gathered here (bot/), not in commands/checks/: it reads the state store and asks Slack; the bot and the
terminal hand `oncall_evidence` to checks as `CheckContext.oncall`."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import aiohttp

from commands.registry import CheckResult
from commands.report import Finding, Severity
from escalation.oncall.calendars import Calendars
from escalation.oncall.coverage import AHEAD, coverage_findings
from escalation.oncall.directory import Directory
from escalation.oncall.overrides import OverrideStore
from escalation.state.db import Database, now


def _slack(settings: Any) -> Any:
    token = getattr(settings, "slack_bot_token", None)
    if token is None:
        return None
    from slack_sdk.web.async_client import AsyncWebClient

    return AsyncWebClient(
        token=token.get_secret_value(), base_url=settings.slack_api_url, timeout=settings.timeouts.probe_s
    )


async def _pager(settings: Any) -> Finding:
    esc = settings.escalation
    url = esc.pager_webhook_url
    if not url:
        return Finding(
            severity=Severity.WARNING,
            title="pager webhook not configured: the manager rung cannot be paged",
            detail="set ALP_ESCALATION__PAGER_WEBHOOK_URL (PagerDuty Events API v2 or compatible)",
            probe="pager",
        )
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=settings.timeouts.probe_s)) as http,
            http.head(url) as resp,
        ):
            status = resp.status
    except Exception as err:
        return Finding(
            severity=Severity.CRITICAL,
            title="pager webhook not answering: the manager rung would fail",
            detail=f"HEAD {url.split('?')[0]}: {type(err).__name__}: {err}"[:500],
            probe="pager",
        )
    return Finding(severity=Severity.OK, title=f"pager webhook answers (HTTP {status} to HEAD)", probe="pager")


async def _people(client: Any, directory: Directory, at: Any) -> list[Finding]:
    """Groups equal to who is on call now; people on call in the next 14 days reachable by DM."""
    out: list[Finding] = []
    soon: dict[str, set[str]] = {}
    for s in directory.settings.schedules:
        try:
            shifts, _ = await directory.shifts(s.name, at, at + AHEAD)
        except Exception:
            continue  # coverage already says UNKNOWN for it
        for sh in shifts:
            for u in sh.users:
                soon.setdefault(u, set()).add(s.name)
        current = shifts[0].users if shifts else ()
        if s.group:
            try:
                members = (await client.usergroups_users_list(usergroup=s.group)).get("users") or []
            except Exception as err:
                out.append(
                    Finding(
                        severity=Severity.UNKNOWN,
                        title=f"{s.name}: group {s.group} could not be read",
                        detail=str(err)[:300],
                        probe="group",
                    )
                )
                continue
            if sorted(members) != sorted(current):
                out.append(
                    Finding(
                        severity=Severity.WARNING,
                        title=f"{s.name}: user group <!subteam^{s.group}> differs from who is on call",
                        detail=f"group: {', '.join(f'<@{u}>' for u in members) or 'empty'}; on call: "
                        f"{', '.join(f'<@{u}>' for u in current) or 'nobody'} (put back at the next sync)",
                        probe="group",
                    )
                )
            else:
                out.append(
                    Finding(severity=Severity.OK, title=f"{s.name}: user group matches who is on call", probe="group")
                )
    for user, names in sorted(soon.items()):
        try:
            info = (await client.users_info(user=user)).get("user") or {}
            if info.get("deleted"):
                raise RuntimeError("the account is deactivated")
            await client.conversations_open(users=user)
        except Exception as err:
            reason = getattr(getattr(err, "response", None), "get", lambda *_: None)("error") or str(err)
            out.append(
                Finding(
                    severity=Severity.CRITICAL,
                    title=f"<@{user}> is on call ({', '.join(sorted(names))}) in the next 14 days but cannot be paged",
                    detail=f"{reason}: override their shifts (`oncall override`) or fix the rotation",
                    probe="people",
                )
            )
    return out


async def oncall_evidence(settings: Any) -> CheckResult:
    """`check oncall`'s findings for the bot's `settings` (commands/checks/oncall.py declares the check)."""
    schedules = settings.oncall.schedules
    findings: list[Finding] = []
    if not schedules:
        findings.append(
            Finding(
                severity=Severity.OK,
                title="no on-call schedules configured: the ladder pages the fixed handles",
                detail=f"primary {settings.escalation.oncall.primary}, secondary {settings.escalation.oncall.secondary}",
                probe="schedules",
            )
        )
        return CheckResult([*findings, await _pager(settings)])
    db = None
    path = settings.state_url.removeprefix("sqlite:///")
    if path == settings.state_url or os.path.exists(path):  # noqa: ASYNC240 (one stat)
        db = Database(settings.state_url, pooled=False)
    client = _slack(settings)
    try:
        from bot.oncall.people import SlackPeople

        calendars = Calendars(settings.oncall, SlackPeople(client) if client else None)
        await calendars.refresh_all()
        directory = Directory(
            settings.oncall,
            OverrideStore(db, settings.timeouts.probe_s) if db else None,
            calendars.shifts,
            cover=calendars.cover,
        )
        at = now()
        findings += await coverage_findings(directory, at)
        for name, state in calendars.states.items():
            if state.unchecked:
                words = sorted(state.unchecked)
                findings.append(
                    Finding(
                        severity=Severity.UNKNOWN,
                        title=f"{name}: people the calendar names were not checked: {state.unchecked[words[0]]}",
                        detail="not looked up in Slack: " + ", ".join(words[:10]) + (" …" if len(words) > 10 else ""),
                        probe="schedules",
                    )
                )
            if state.unmatched:
                findings.append(
                    Finding(
                        severity=Severity.WARNING,
                        title=f"{name}: the calendar names people no one matches",
                        detail="not paged: " + ", ".join(state.unmatched[:10]) + " (use Slack ids, e-mails or handles)",
                        probe="schedules",
                    )
                )
        if client is None:
            findings.append(
                Finding(
                    severity=Severity.UNKNOWN,
                    title="user groups and people not checked: no SLACK_BOT_TOKEN",
                    probe="groups",
                )
            )
        else:
            findings += await _people(client, directory, at)
        if db is not None:
            from escalation.oncall.groups import last_results

            for name, (when, text) in (await last_results(db, settings.timeouts.probe_s)).items():
                if text.startswith(("refused", "failed")):
                    findings.append(
                        Finding(
                            severity=Severity.WARNING,
                            title=f"{name}: the last user-group sync ({when:%Y-%m-%d %H:%M} UTC) did not go through",
                            detail=text,
                            probe="groups",
                        )
                    )
    finally:
        if db is not None:
            await db.close()
    findings.append(await _pager(settings))
    return CheckResult(findings, {"ahead_days": AHEAD / timedelta(days=1)})
