"""Fixtures of the end-to-end tier: alp-bot processes whose log the tests read, and the bot the
test bed's Alertmanager notifies (`am_bot`, one per module that uses it)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support import alertmanager as am
from tests.support.alertmanager import ROUTES
from tests.support.bot_env import ACTIONS_ENV, BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET
from tests.support.processes import BotProcess, LoggedBot


@pytest.fixture(scope="module")
def lbot(bot: BotProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedBot]:
    tmp = tmp_path_factory.mktemp("lbot")
    env = {**bot.env, "ALP_STATE_URL": f"sqlite:///{tmp}/state.db", "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0"}
    proc = BotProcess(env, log_path=tmp / "bot.log").start()
    yield LoggedBot(proc, tmp / "bot.log")
    proc.stop()


@pytest.fixture(scope="module")
def am_bot(testbed, fake_slack, platform, kube_admin, tmp_path_factory) -> Iterator[BotProcess]:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_ALERTMANAGER__URL"):
        pytest.fail("no Alertmanager in the test bed: run `scripts/testbed up`")
    state = f"sqlite:///{tmp_path_factory.mktemp('am-state')}/alp-state.db"
    proc = BotProcess(
        {
            **testbed,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": fake_slack.api_url,
            "ALP_TIMEOUTS__PROBE_S": "3",
            **ESCALATION_ENV,
            **ACTIONS_ENV,
            "ALP_STATE_URL": state,
            "ALP_ALERTMANAGER__WEBHOOK_TOKEN": am.TOKEN,
            "ALP_ALERTMANAGER__ROUTES": json.dumps(ROUTES),
            "ALP_ALERTMANAGER__CHANNEL": "C0ALERTDEFAULT",
            "ALP_ALERTMANAGER__POST_RATE_PER_S": "10",
            "ALP_ALERTMANAGER__POST_BURST": "5",
            "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        }
    ).start()
    am.point_at(testbed["ALP_ALERTMANAGER__URL"], testbed["ALP_TESTBED_ALERTMANAGER_CONFIG"], proc.url)
    yield proc
    proc.stop()
