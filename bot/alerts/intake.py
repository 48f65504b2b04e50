"""Alerts in, diagnosis out: `POST /alertmanager` (Alertmanager's webhook, version 4).

Per alert group (`groupKey`): one Slack message, posted once and updated in place as
Alertmanager re-sends the group; the routed check runs when the group starts firing and when
alerts join it; a route with a priority opens one incident per episode (firing -> resolved),
whose timeline records the alerts and whose evidence is the check's findings; a resolved
notification resolves it (`auto_resolve`). Webhooks of one group are handled in order, one
at a time; identical checks share one run; posting is paced per channel (Slack allows about
one message per second per channel).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.group_messages import ANNOUNCING, GroupMessages
from bot.alerts.webhook import WebhookAlert, WebhookPayload
from bot.check_context import check_context
from bot.render.report_blocks import SlackMessage, render_report
from bot.settings import Settings
from commands.alerts import route_for
from commands.graph.alert_graph import alert_graphs
from commands.graph.chart import graph_png
from commands.masking.redact import redact
from commands.params import UsageError
from commands.registry import CheckSpec
from commands.report import Report
from commands.runner import run_check
from commands.runtime.cpu import off_loop, off_process
from escalation.ladder.engine import Escalator
from escalation.model import Priority
from escalation.state.alert_groups import AlertGroup, AlertGroups
from escalation.state.effects import Kind

log = logging.getLogger(__name__)

ACTOR = "alertmanager"


class AlertIntake:
    def __init__(
        self,
        settings: Settings,
        client: AsyncWebClient,
        escalator: Escalator,
        groups: AlertGroups,
        messages: GroupMessages,
        button: Any = None,
    ) -> None:
        self.settings, self.cfg, self.client, self.escalator, self.groups = (
            settings,
            settings.alertmanager,
            client,
            escalator,
            groups,
        )
        self.button = button  # signs remediation buttons (SlackRemediation.request_button)
        self.messages = messages  # the groups' Slack messages, shared with the incident notifier
        self.key, self.metrics = messages.key, messages.metrics
        self.locks: dict[str, tuple[asyncio.Lock, int]] = {}  # group key -> (lock, notifications holding it)
        self.reports: dict[tuple[str, str], tuple[float, asyncio.Future[Report]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        # Groups handled at once: the state store is written synchronously, so fifty groups in
        # flight would each hold the event loop a little on every turn and delay slash commands' acks.
        self.slots = asyncio.Semaphore(self.cfg.concurrency)

    @property
    def latencies(self) -> list[float]:
        """Seconds, notification -> findings posted (the benchmark reads them)."""
        return self.messages.latencies

    # ------------------------------------------------------------------ HTTP
    async def endpoint(self, request: web.Request) -> web.Response:
        """401 without the right bearer token, 404 while intake is off, 400 for a malformed body."""
        token = self.cfg.webhook_token
        if token is None:
            return web.json_response({"error": "alert intake is off: set ALP_ALERTMANAGER__WEBHOOK_TOKEN"}, status=404)
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
            return web.json_response({"error": "missing or wrong bearer token"}, status=401)
        try:
            payload = WebhookPayload.model_validate_json(await request.read())
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            reason = f"{where}: {first['msg']}"
            return web.json_response(
                {"error": "not an Alertmanager webhook payload (version 4)", "reason": reason}, status=400
            )
        self.metrics.received.labels(status=payload.status).inc()
        task = asyncio.create_task(self.handle(payload, time.monotonic()))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return web.json_response({"status": "accepted", "alerts": len(payload.alerts)})

    # ------------------------------------------------------------------ one notification
    async def handle(self, payload: WebhookPayload, received: float) -> None:
        """One notification, after the group's earlier ones; a failure is logged, never raised."""
        key = payload.groupKey
        lock, users = self.locks.get(key, (asyncio.Lock(), 0))
        self.locks[key] = (lock, users + 1)
        try:
            async with lock, self.slots:
                await self._handle(payload, received)
        except Exception:
            log.exception("alert group %s: notification not handled", key[:200])
        finally:
            lock, users = self.locks[key]
            if users <= 1:
                del self.locks[key]
            else:
                self.locks[key] = (lock, users - 1)

    async def _handle(self, payload: WebhookPayload, received: float) -> None:
        # An alert is its fingerprint and startsAt, whatever group key it comes under.
        known = await self.groups.instances([(a.fingerprint, a.startsAt) for a in payload.alerts])
        alerts = [a for a in payload.alerts if not (a.status == "firing" and _resolved(known, a))]
        firing = [a for a in alerts if a.status == "firing"]
        group = await self.groups.current(payload.groupKey)
        if group is None or group.status == "resolved":
            group = await self._carried_over(payload.groupKey, known) or group
        new_episode = group is None or (group.status == "resolved" and bool(firing))
        old_news = any(a.status == "firing" for a in payload.alerts) and not firing
        if group is not None and (old_news or (group.status == "resolved" and (not firing or _stale(firing, group)))):
            # A repeated "resolved", or a firing notification older than the resolution (a
            # retried webhook, an HA peer's late copy): nothing new, no new episode.
            group.notifications += 1
            await self.groups.save(group)
            return
        if group is None and not firing:
            # Resolved before we heard it fire (a new receiver, a fresh state store, an HA peer's
            # resolution first): no message to update, no incident to resolve; remembered, so a
            # late firing copy of these alerts opens nothing.
            log.info("alert group %s resolved; never seen firing: nothing to update", payload.groupKey[:200])
            await self.groups.record_instances(None, {(a.fingerprint, a.startsAt): "resolved" for a in alerts})
            return
        spec = params = None
        if new_episode:
            labels = firing[0].labels
            route = route_for(labels, self.cfg.routes)
            channel = ((route.channel if route else None) or self.cfg.channel).lstrip("#")
            group, new_episode = await self.groups.start(
                payload.groupKey, channel, group.incident_id if group else None
            )
            if new_episode:
                spec, params = self._routed(group, firing[0])
        assert group is not None
        if not new_episode and not group.route:
            if not group.incident_id and _age_s(group) < self.cfg.start_claim_s:
                # Another replica started this episode and has not saved it yet (its first save
                # follows the check): it posts the message and opens the incident; posting here too
                # would duplicate both. Alertmanager re-sends the group; a starter that died is
                # taken over once the episode is `start_claim_s` old.
                log.info("alert group %s: being started by another replica", payload.groupKey[:200])
                return
            # its starter died before saving it, or has opened its incident (linked in the INSERT)
            # and not saved the rest yet: routed again here, its check run, its incident opened if
            # it has none; its message, if its announcement is owed, only by whoever holds that
            if firing:
                log.warning(
                    "alert group %s: not saved by its starter (died, or still announcing); carried on here",
                    payload.groupKey[:200],
                )
                spec, params = self._routed(group, firing[0])
        before = {f for f, a in group.alerts.items() if a.get("status") == "firing"}
        for a in alerts:
            group.alerts[a.fingerprint] = a.model_dump()
        group.common_labels = dict(payload.commonLabels)
        group.route["truncated"] = payload.truncatedAlerts  # left out by Alertmanager's max_alerts
        group.route["latest"] = [a.fingerprint for a in alerts]  # what the counts are of
        group.status = "firing" if firing else "resolved"
        if group.status == "resolved":  # the whole group, with alerts max_alerts left unlisted
            for seen in group.alerts.values():
                seen["status"] = "resolved"
        group.notifications += 1
        now_firing = {a.fingerprint for a in firing}
        joined, left = now_firing - before, before - now_firing
        # Never posted (a crash or a Slack failure after the episode was saved): this notification
        # does what the lost one should have; Alertmanager re-sends every repeat_interval.
        unposted = not new_episode and group.message_ts is None
        routed = "check" in group.route and not group.route.get("invalid")
        if not new_episode and firing and routed and (joined or unposted):
            spec, params = self._route_spec(group)
        report, charts = await asyncio.gather(
            self._report(spec, params, received) if spec is not None else _none(), self._graph_alerts(group)
        )
        fresh = await off_loop(self._render_report, group, report)  # masking and Block Kit: CPU, off the loop
        arrived = received if report else None
        unsent = group.message_ts is None
        posted_in = group.message_ts  # the message's thread before this notification
        if (new_episode or unposted) and group.route.get("priority") and firing and not group.incident_id:
            token = ANNOUNCING.set((group, fresh, arrived))
            try:
                await self._open_incident(group, firing[0])
            finally:
                ANNOUNCING.reset(token)
            await self.groups.save(group)
        await self._record(group, joined, left, report)
        if unsent and group.message_ts is not None:  # posted as the incident's announcement
            await self.groups.save(group)
        elif group.message_ts is None and group.incident_id and await self._announcement_owed(group.incident_id):
            # its message is its incident's announcement, an owed effect: posted by whoever holds it
            # (here, now, if nobody does; a replica that died holds it until its claim runs out)
            await self.groups.save(group)
            await self.escalator.settle(group.incident_id)
            group = await self.groups.get(group.id) or group
        else:
            await self.messages.post(group, fresh, arrived)
        if not charts and posted_in not in (None, group.message_ts):  # posted again (deleted): a new thread
            charts = await self._graph_alerts(group, again=True)
        if charts:
            await self.messages.attach_charts(group, charts)
        listed = set(group.route["latest"]) if group.status == "firing" else set(group.alerts)
        await self.groups.record_instances(
            group.id, {(fp, a["startsAt"]): a["status"] for fp, a in group.alerts.items() if fp in listed}
        )
        if group.status == "resolved" and group.incident_id and self.cfg.auto_resolve:
            await self.escalator.resolve(group.incident_id, ACTOR)

    async def _announcement_owed(self, incident_id: int) -> bool:
        return (Kind.ANNOUNCE, "") in await self.escalator.owed.effects.pending(incident_id)

    async def _carried_over(
        self, group_key: str, known: dict[tuple[str, str], tuple[int | None, str]]
    ) -> AlertGroup | None:
        """The firing episode these alerts belong to under another group key (a reload changed
        `group_by`): re-keyed to `group_key`, with its message and incident."""
        for episode_id in sorted({e for e, status in known.values() if e is not None and status == "firing"}):
            episode = await self.groups.get(episode_id)
            if episode is None or episode.status != "firing" or episode.group_key == group_key:
                continue
            moved = await self.groups.rekey(episode_id, group_key)
            if moved is not None:
                log.info("alert group %s continues as %s", episode.group_key[:200], group_key[:200])
                return moved
        return None

    def _routed(self, group: AlertGroup, first: WebhookAlert) -> tuple[CheckSpec | None, Any]:
        """The route of a starting episode, kept on it (check, priority, params, notes): the check's
        spec and params to run now, or (None, None) when it has no route or bad params."""
        route = route_for(first.labels, self.cfg.routes)
        if route is None:
            return None, None
        spec = params = None
        group.route = {"check": route.check, "priority": route.priority, "params": {}}
        try:
            spec, params, notes = route.params(first.labels)
            group.route["params"] = params.model_dump(mode="json", exclude_none=True)
        except UsageError as err:
            notes = [f"{err}: the check did not run"]
            group.route["invalid"] = True
        group.route["notes"] = notes
        return spec, params

    def _route_spec(self, group: AlertGroup) -> tuple[CheckSpec | None, Any]:
        from commands.catalogue import current

        spec = current().checks.get(group.route["check"])
        return (spec, spec.params.model_validate(group.route["params"])) if spec else (None, None)

    async def _report(self, spec: CheckSpec, params: Any, received: float) -> Report:
        """The check's report; identical checks whose notifications arrived (`received`, monotonic
        seconds) within `check_reuse_s` of the run's start, or while it runs, share one run: a storm's
        groups that wait their turn (`concurrency`) are judged on the evidence read when they came."""
        key = (spec.name, params.model_dump_json())
        hit = self.reports.get(key)
        if hit is not None and (not hit[1].done() or received - hit[0] < self.cfg.check_reuse_s):
            self.metrics.checks.labels(target=spec.name, run="shared").inc()
            return await asyncio.shield(hit[1])
        self.metrics.checks.labels(target=spec.name, run="ran").inc()
        stale = [
            k for k, (at, f) in self.reports.items() if f.done() and time.monotonic() - at >= self.cfg.check_reuse_s
        ]
        for k in stale:
            del self.reports[k]
        future = asyncio.ensure_future(run_check(spec, check_context(self.settings), params))
        self.reports[key] = (time.monotonic(), future)
        return await asyncio.shield(future)

    async def _graph_alerts(self, group: AlertGroup, again: bool = False) -> list[tuple[bytes, str]]:
        """Each rule expression of the group's alerts graphed and judged (commands/graph/alert_graph.py):
        the sentences go into the group's message (`route["graph_lines"]`); the charts (PNG, title) are
        returned to go into its thread when an alert's state changed since the last chart posted, or
        `again` (the message was posted again: its new thread has none)."""
        if not self.settings.prometheus.url:
            return []
        latest = set(group.route.get("latest") or group.alerts) if group.status == "firing" else set(group.alerts)
        alerts = [{**a, "fingerprint": fp} for fp, a in group.alerts.items() if fp in latest]
        try:
            graphs = await alert_graphs(self.settings.prometheus, alerts, datetime.now(UTC))
        except Exception:  # a chart is extra: the notification is handled without it
            log.exception("alert group %s: the alert's expression not graphed", group.group_key[:200])
            group.route["graph_lines"] = ["the alert's expression could not be graphed (alp's error, logged)"]
            return []
        group.route["graph_lines"] = [line for g in graphs for line in g.lines]
        group.route["graph_at"] = datetime.now(UTC).strftime("%H:%M UTC")  # when they were judged
        states = {fp: kind for g in graphs for fp, kind in g.states.items()}
        if states == group.route.get("graph_states") and not again:
            return []  # nothing changed since the charts already in the thread
        group.route["graph_states"] = states
        charts = []
        for g in graphs:
            if g.graph is not None:
                png = await off_process(graph_png, {"graph": g.graph})  # matplotlib: a worker process, as `alp graph`'s
                if png is not None:
                    charts.append((png, str(g.graph["title"])))
        return charts

    # ------------------------------------------------------------------ incident
    async def _open_incident(self, group: AlertGroup, first: WebhookAlert) -> None:
        labels, ann = first.labels, first.annotations
        name = labels.get("alertname", "alert")
        summary = redact(f"{name}: {ann.get('summary') or ann.get('description') or 'alert firing'}")[:200]
        known = {s.name for s in self.settings.platform.services}
        services = sorted({v for k, v in labels.items() if k in ("service", "deployment", "app") and v in known})
        impact = redact(ann.get("description") or "")[:1000]
        inc = await self.escalator.open(
            Priority(group.route["priority"]), summary, impact, services, group.channel, ACTOR, alert_episode=group.id
        )
        group.incident_id = inc.id
        if group.previous_incident_id:
            await self.escalator.record(
                inc.id,
                "alp",
                "alert",
                f"alert group fired again after INC-{group.previous_incident_id} resolved",
                {"previous_incident": group.previous_incident_id, "group_key": group.group_key},
            )

    async def _record(self, group: AlertGroup, joined: set[str], left: set[str], report: Report | None) -> None:
        """Alerts joining and leaving go into the incident's timeline; the findings into its evidence."""
        if not group.incident_id:
            return
        for verb, fps in (("firing", sorted(joined)), ("resolved", sorted(left))):
            if fps:  # one entry per notification, however many alerts it carries
                described = [_describe(group.alerts[fp]) for fp in fps]
                more = f" (and {len(fps) - 10} more)" if len(fps) > 10 else ""
                await self.escalator.record(
                    group.incident_id,
                    "alp",
                    "alert",
                    f"{len(fps)} alert(s) {verb}: " + "; ".join(described[:10]) + more,
                    {"fingerprints": fps},
                )
        if report is not None:
            text, data = report.verdict("routed from the alert", dict(group.route.get("params") or {}))
            await self.escalator.record(group.incident_id, "alp", "check", text, data)

    # ------------------------------------------------------------------ Slack

    def _render_report(self, group: AlertGroup, report: Report | None) -> SlackMessage | None:
        """The check's report as blocks, kept on the episode so later updates still show it."""
        if report is None:
            return None
        rendered = render_report(report, self.button)
        if group.route.get("priority"):  # the group opens its own incident: no "Open incident" button
            rendered.blocks = [b for b in rendered.blocks if b.get("block_id") != "incident_from_report"]
        group.route["report_blocks"] = rendered.blocks
        group.route["report_target"] = report.target
        group.route["report_read_at"] = report.started_at.isoformat()  # a newer verdict supersedes it
        group.route["report_severity"] = report.severity.value
        return rendered


async def _none() -> None:
    return None


def _describe(alert: dict[str, Any]) -> str:
    labels = alert.get("labels", {})
    extra = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
    summary = alert.get("annotations", {}).get("summary", "")
    return redact(
        f"{labels.get('alertname', '?')}" + (f" ({extra})" if extra else "") + (f": {summary}" if summary else "")
    )


def _stale(firing: list[WebhookAlert], group: AlertGroup) -> bool:
    """Every firing alert is one the resolved episode already saw resolve (same fingerprint,
    same startsAt): Prometheus gives an alert that fires again a new startsAt."""
    return all(
        (seen := group.alerts.get(a.fingerprint)) is not None
        and seen.get("status") == "resolved"
        and seen.get("startsAt") == a.startsAt
        for a in firing
    )


def _resolved(known: dict[tuple[str, str], tuple[int | None, str]], alert: WebhookAlert) -> bool:
    """This firing of the alert (fingerprint, startsAt) was already seen resolved."""
    return known.get((alert.fingerprint, alert.startsAt[:64]), (None, ""))[1] == "resolved"


def _age_s(group: AlertGroup) -> float:
    opened = group.opened_at if group.opened_at.tzinfo else group.opened_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    return (datetime.now(UTC) - opened).total_seconds()
