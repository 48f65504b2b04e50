"""`alp-bot`: the Bolt app over HTTP (or Socket Mode), with health, readiness and metrics.

HTTP on ALP_HTTP_PORT: POST /slack/events (Slack-signed), GET /healthz, GET /readyz,
GET /metrics, POST /alertmanager (Alertmanager's webhook, see bot/alerts/intake.py). With SLACK_APP_TOKEN set, Slack events arrive over Socket Mode instead and
the HTTP server keeps serving the three operational endpoints.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot.alerts.group_messages import GroupMessages
from bot.alerts.intake import AlertIntake
from bot.alerts.notifier import AlertNotifier, recovery_judge
from bot.alerts.silences import alert_intake
from bot.check_context import check_context
from bot.loop_watch import LoopWatch
from bot.metrics import AlertMetrics, Metrics
from bot.oncall.buttons import OncallButtons
from bot.oncall.feed import feed_route
from bot.oncall.groups import SlackGroups
from bot.oncall.handoff import HandoffWork, start_handoffs
from bot.oncall.people import SlackPeople
from bot.oncall.slack import directory_of
from bot.remediation.buttons import SlackRemediation
from bot.runbook import RunbookWatcher
from bot.settings import ConfigError, Settings, load_settings
from bot.slack.app import build_app, register_fallbacks
from bot.slack.client import Pacer, make_client
from commands.changes import incident_changes_hook
from commands.masking.redact import RedactingFilter, redact, redact_data
from commands.masking.rules import format_spans
from commands.readiness import readiness
from commands.runner import check_runner
from commands.runtime.cpu import off_process, warm
from escalation.ladder.engine import Escalator
from escalation.ladder.leader import Lease
from escalation.ladder.reconciler import Duty
from escalation.oncall.calendars import Calendars
from escalation.oncall.groups import GroupSync
from escalation.oncall.paging import resolve
from escalation.oncall.scheduler import HandoffScheduler
from escalation.state.alert_groups import AlertGroups
from escalation.state.audit import changes_since
from escalation.state.db import Database, StateStoreError
from escalation.state.store import Store

log = logging.getLogger("alp.bot")

READINESS_CACHE_S = 5.0
MAX_TIMESTAMP_DIGITS = 12


def signed(verifier: SignatureVerifier | None, body: bytes, headers: Any) -> bool:
    """Slack's v0 signature over the raw body, checked before anything parses it. A missing,
    non-numeric (`²`, `1e9`) or stale timestamp, or a wrong signature, is False, never an error."""
    if verifier is None:
        return False
    ts = headers.get("X-Slack-Request-Timestamp", "")
    sig = headers.get("X-Slack-Signature", "")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= MAX_TIMESTAMP_DIGITS) or not sig.isascii():
        return False
    return verifier.is_valid(body=body, timestamp=ts, signature=sig)


RUNBOOK: web.AppKey[RunbookWatcher | None] = web.AppKey("runbook")


def malformed_interaction(body: Any) -> str | None:
    """Why a signed interaction is not one Slack sends (a click without the action clicked, which
    Bolt would index into and fail on), or None. Bolt's routing reads `actions[0]` of
    `block_actions` and `interactive_message` payloads."""
    if not isinstance(body, dict) or body.get("type") not in ("block_actions", "interactive_message"):
        return None
    clicked = body.get("actions")
    if not isinstance(clicked, list) or not clicked or not isinstance(clicked[0], dict):
        return f"a {body['type']} payload without the action clicked (actions: {type(clicked).__name__}, empty or not objects)"
    if body["type"] == "block_actions" and not isinstance(clicked[0].get("action_id"), str):
        return "a block_actions payload whose action has no action_id"
    return None


def build_web(
    settings: Settings, app: AsyncApp, metrics: Metrics, escalator: Escalator, intake: AlertIntake
) -> web.Application:
    """The aiohttp application serving Slack's requests and the operational endpoints."""
    cache: dict[str, Any] = {"at": 0.0, "body": None}
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    verifier = SignatureVerifier(secret) if secret else None

    async def slack_events(request: web.Request) -> web.Response:
        body = await request.read()
        if not signed(verifier, body, request.headers):
            # The body is not logged: it is unauthenticated and may be large or hostile.
            log.warning("refused a request to /slack/events: bad or stale signature (%d bytes)", len(body))
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, UnicodeDecodeError) as err:  # signed, but not a form Slack sends
            log.warning("refused a signed request to /slack/events: unreadable body (%s)", type(err).__name__)
            return web.json_response({"error": "unreadable body"}, status=400)
        if (why := malformed_interaction(bolt_request.body)) is not None:
            log.warning("refused a signed request to /slack/events: %s", why)
            return web.json_response({"error": why}, status=400)
        bolt_response = await app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        if cache["body"] is None or time.monotonic() - cache["at"] > READINESS_CACHE_S:
            backends = redact_data(await readiness(settings, timeout=settings.timeouts.probe_s))
            state = await escalator.ping(settings.timeouts.probe_s)
            # Ready while the bot can keep its own records: a down backend is something to report,
            # not a reason to stop serving Slack. Without its state store it cannot run incidents.
            cache["body"] = {
                "ready": state is None,
                "state_store": state or "ok",
                "escalation_leader": escalator.leading,
                "backends": backends,
            }
            cache["at"] = time.monotonic()
        body = dict(cache["body"])
        watcher = request.app.get(RUNBOOK)
        if watcher is not None:  # live, not cached: a refused reload shows at once
            body["runbook"] = watcher.status()
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def metrics_endpoint(_: web.Request) -> web.Response:
        return web.Response(body=metrics.render(), content_type="text/plain", charset="utf-8")

    @web.middleware
    async def bounded_body(request: web.Request, handler: Any) -> web.StreamResponse:
        """A body sent slower than `http_body_timeout_s` is answered 408, never waited for (read
        here once: the handler's `read()` gets it from aiohttp's cache)."""
        if request.can_read_body:
            try:
                async with asyncio.timeout(settings.http_body_timeout_s):
                    await request.read()
            except TimeoutError:
                log.warning(
                    "closed a slow request to %s: no whole body in %gs", request.path, settings.http_body_timeout_s
                )
                slow = web.json_response({"error": "request body too slow"}, status=408)
                slow.force_close()
                await slow.prepare(request)
                await slow.write_eof()
                request.protocol.force_close()  # the rest of the body is not read (no lingering)
                return slow
        response: web.StreamResponse = await handler(request)
        return response

    web_app = web.Application(middlewares=[bounded_body])
    web_app.add_routes(
        [
            web.post("/slack/events", slack_events),
            web.get("/healthz", healthz),
            web.get("/readyz", readyz),
            web.get("/metrics", metrics_endpoint),
            web.post("/alertmanager", intake.endpoint),
        ]
    )
    return web_app


class StartupError(Exception):
    """A start-up step failed (the port is taken...); the message says which, in one line."""


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT.

    Everything is built first (nothing runs yet); then aiohttp's cleanup contexts start, in order,
    the state store, the escalation reconciler (it takes the leader lease) and the lag watcher, and
    stop them in reverse order on the way out, whether the bot was asked to stop or a later start-up
    step failed (the port taken): no reconciler is left running, the lease is given up."""
    import commands.catalogue  # noqa: F401  (every check target, step and action)
    from commands.backends.kube import preload

    preload()  # a second of imports now, instead of a blocked event loop in the first check
    redact("x")  # likewise the secret detectors
    await off_process(warm)  # the worker processes (alp logs' grouping) start now, not in a check
    metrics = Metrics()
    db = Database(settings.state_url, limits=settings.state)  # migrated to the newest schema here, before serving
    client = make_client(
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None, settings.slack_api_url
    )
    groups = AlertGroups(db)
    store = Store(db)
    pacer = Pacer(settings.alertmanager.post_rate_per_s, settings.alertmanager.post_burst)  # one pace per channel
    messages = GroupMessages(
        settings,
        client,
        groups,
        store.get,
        pacer,
        AlertMetrics(metrics.registry),
        move_announcement=store.set_message,
        timeline=store.timeline,
        clock=store.clock,
    )
    # the masking rule set compiles once (about a second), in a worker thread, before the first text needs it
    await asyncio.to_thread(format_spans, "")
    notifier = AlertNotifier(client, settings, groups, messages, store.timeline)
    calendars = Calendars(settings.oncall, SlackPeople(client))  # imported on-call calendars, read in `oncall`
    directory = directory_of(settings, db, calendars)  # who is on call: the ladder, /alp oncall, the feed
    lease = Lease(db, settings.escalation.leader_lease_s)  # one per process: the ladder and the handoffs ask it
    sync = GroupSync(db, directory, SlackGroups(client), lease.holder, settings.timeouts.probe_s)
    handoffs = HandoffScheduler(directory, lambda: lease.held, HandoffWork(settings, sync, client))
    escalator = Escalator(
        store,
        settings.escalation,
        notifier,
        on_event=metrics.escalation_event,
        recent_changes=incident_changes_hook(settings, changes_since),
        people=functools.partial(resolve, directory),
        run_check=check_runner(check_context(settings)),  # pages and resolutions re-run the incident's checks
        lease=lease,
        on_lead_gained=[lambda: handoffs.wake("lease gained")],  # a handoff missed while nobody led
        judge_recovery=recovery_judge(settings, groups),  # the checklist items alp can judge itself
    )
    oncall_buttons = OncallButtons(settings, directory, lambda: handoffs.wake("override"))  # overrides in Slack

    async def incident_alerts(channel: str) -> list[dict[str, Any]]:  # a remedy's re-check reads their expressions
        inc = await store.open_in_channel(channel)
        return await groups.alerts_of_incident(inc.id) if inc else []

    flow = SlackRemediation(settings, client, escalator, metrics, incident_alerts)  # commands, clicks, alerts
    app = build_app(settings, metrics, escalator, flow, oncall_buttons)
    intake = alert_intake(settings, app, groups, messages, flow)
    register_fallbacks(app, settings.state_url)  # last: Bolt runs the first listener that matches
    web_app = build_web(settings, app, metrics, escalator, intake)
    web_app.add_routes([feed_route(directory)])

    watch = LoopWatch(metrics.registry)

    async def loop_watch(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(watch.run())
        yield
        task.cancel()

    async def state_store(_: web.Application) -> AsyncIterator[None]:
        yield
        await escalator.close()

    async def reconciler(_: web.Application) -> AsyncIterator[None]:
        duties: list[Duty] = [
            flow.flow.recover_interrupted,  # runs whose bot died mid-run
            *(  # an override made by the terminal, seen at once
                [handoffs.follow(directory.store)] if settings.oncall.schedules and directory.store is not None else []
            ),
        ]
        await escalator.start(leader_duties=duties)
        yield
        await escalator.stop()  # lets the pass in flight finish, then gives the lease up

    async def oncall(_: web.Application) -> AsyncIterator[None]:
        """Imported calendars read on their interval; the handoff scheduler (after the reconciler:
        it asks whether this replica leads)."""
        calendar_task = await start_handoffs(handoffs, calendars)  # the catch-up waits for the first read
        yield
        handoffs.stop()
        if calendar_task is not None:
            calendar_task.cancel()

    async def lag_watcher(_: web.Application) -> AsyncIterator[None]:
        if settings.kafka_lag.watch_interval_s <= 0:
            yield
            return
        from commands.checks.kafka_lag import LagWatcher

        watcher = asyncio.create_task(LagWatcher(settings).run())
        yield
        watcher.cancel()

    runbook_watcher = None
    if settings.runbook_dir:  # reloads changed runbook files (they were loaded and linted in main())
        runbook_watcher = RunbookWatcher(settings, Path(settings.runbook_dir), settings.runbook_poll_s)
    web_app[RUNBOOK] = runbook_watcher

    async def runbook_files(_: web.Application) -> AsyncIterator[None]:
        if runbook_watcher is not None:
            runbook_watcher.start()
        yield
        if runbook_watcher is not None:
            await runbook_watcher.stop()

    # What start-up loaded (modules, the Kubernetes client's models, the rule sets: most of the heap)
    # lives as long as the bot: out of the garbage collector's full passes, which otherwise walk it
    # all, on the event loop, while a check makes objects (0.3-0.4 s at load 15-20).
    gc.freeze()
    web_app.cleanup_ctx.extend([loop_watch, state_store, reconciler, oncall, lag_watcher, runbook_files])
    # idle and slow-header clients are closed after http_idle_timeout_s (aiohttp's keep-alive timer
    # runs from the connection's start and after each answer)
    runner = web.AppRunner(web_app, access_log=None, keepalive_timeout=settings.http_idle_timeout_s)
    socket_handler = None
    try:
        await runner.setup()  # runs the cleanup contexts' start halves, in order
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        try:
            await site.start()
        except OSError as err:
            raise StartupError(f"cannot listen on {settings.http_host}:{settings.http_port}: {err.strerror}") from err
        port = runner.addresses[0][1] if runner.addresses else settings.http_port
        mode = "socket mode" if settings.slack_app_token else "HTTP"
        print(json.dumps({"event": "listening", "port": port, "mode": mode}), flush=True)

        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            socket_handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
            await socket_handler.connect_async()

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if socket_handler is not None:
            await socket_handler.close_async()
        await runner.cleanup()  # the cleanup contexts' stop halves, in reverse order


def main() -> None:
    """Console script `alp-bot`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        settings = load_settings()
    except ConfigError as err:
        print(err, file=sys.stderr)
        sys.exit(2)
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token),
            ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
        )
        if value is None
    ]
    if missing:
        print(f"alp-bot: set {', '.join(missing)} (see README: Configuration)", file=sys.stderr)
        sys.exit(2)
    from bot.runbook import apply_at_start

    problems = apply_at_start(settings, settings.runbook_dir)
    if problems:  # a runbook that does not lint stops the bot before it serves (the lint output, exit 1)
        print(f"alp-bot: runbook files in {settings.runbook_dir} have problems:", file=sys.stderr)
        for p in problems:
            print(str(p), file=sys.stderr)
        sys.exit(1)
    try:
        asyncio.run(serve(settings))
    except (
        StateStoreError,
        StartupError,
    ) as err:  # at start-up: ALP_STATE_URL wrong, the database down, the port taken
        print(f"alp-bot: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
