"""Fixtures of the end-to-end tier: alp-bot processes whose log the tests read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import BotProcess, LoggedBot


@pytest.fixture(scope="module")
def lbot(bot: BotProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedBot]:
    tmp = tmp_path_factory.mktemp("lbot")
    env = {**bot.env, "ALP_STATE_URL": f"sqlite:///{tmp}/state.db", "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0"}
    proc = BotProcess(env, log_path=tmp / "bot.log").start()
    yield LoggedBot(proc, tmp / "bot.log")
    proc.stop()
