"""Lists the bot shows follow the configuration: a service added by ALP_PLATFORM__SERVICES is
probed, listed in `/alp health`'s progress and offered in the incident form."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from commands.config import ServiceSpec
from commands.registry import CHECKS
from tests.support.checks_env import config_for, run
from tests.support.processes import BotProcess
from tests.support.slack_requests import blocks_text, command

EXTRA = "billing-service"


@pytest.fixture(scope="module")
def billing_bot(bot, platform, tmp_path_factory) -> Iterator[BotProcess]:
    """The session bot's configuration plus one service of our own, with a state of its own."""
    services = [*json.loads(bot.env["ALP_PLATFORM__SERVICES"])]
    services.append({"name": EXTRA, "port": 3009, "url": f"{platform.base}/svc/{EXTRA}"})
    state = f"sqlite:///{tmp_path_factory.mktemp('billing')}/state.db"
    proc = BotProcess({**bot.env, "ALP_PLATFORM__SERVICES": json.dumps(services), "ALP_STATE_URL": state}).start()
    yield proc
    proc.stop()


def test_the_incident_form_offers_every_configured_service(billing_bot, fake_slack):
    command(billing_bot, fake_slack, "incident", channel="C0BILLING")
    form = fake_slack.wait_for("views.open", lambda c: c.args["view"]["private_metadata"] == "C0BILLING")
    menu = next(b for b in form.args["view"]["blocks"] if b["block_id"] == "services")
    offered = [o["value"] for o in menu["element"]["options"]]
    services = [s["name"] for s in json.loads(billing_bot.env["ALP_PLATFORM__SERVICES"])]
    assert offered == [*services, "postgres", "redis", "kafka"]


def test_health_progress_lists_the_probes_that_run(billing_bot, fake_slack):
    command(billing_bot, fake_slack, "health --all", channel="C0BILLING")
    first = fake_slack.wait_for(
        "chat.postMessage", lambda c: c.args.get("channel") == "C0BILLING" and "Running `health`" in c.args["text"]
    )
    assert EXTRA in blocks_text(first.args["blocks"])
    final = fake_slack.wait_for(
        "chat.update", lambda c: c.args.get("channel") == "C0BILLING" and "Running" not in c.args.get("text", "")
    )
    assert EXTRA in blocks_text(final.args["blocks"])  # it was probed, as listed


@pytest.mark.parametrize("target", ["health", "network", "latency", "memory"])
async def test_the_probes_a_check_announces_are_the_ones_it_runs(testbed, platform, ns, target):
    """The progress message lists `probe_names(config)` before the run: with a service added by
    configuration, the list must still be what runs (checks whose probes follow the services)."""
    cfg = config_for(testbed, platform, ns)
    cfg.platform.services.append(ServiceSpec(name=EXTRA, port=3009, url=f"{platform.base}/svc/{EXTRA}"))
    ran: list[str] = []

    async def progress(probe: str, state: str) -> None:
        if probe not in ran:
            ran.append(probe)

    await run(target, cfg, progress)
    spec = CHECKS.get(target)
    assert spec is not None
    announced = spec.probe_names(cfg)
    assert sorted(announced) == sorted(ran)
    assert any(EXTRA in name for name in announced)
