"""On-call helpers shared by the tiers: the schedules a test bot runs with, its environment, and
`alp` run with an environment (the terminal's words)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

from tests.support.bot_env import BOT_TOKEN, ESCALATION_ENV, SIGNING_SECRET
from tests.support.processes import alp as run_alp

TODAY = datetime.now(UTC).date()
FEED_TOKEN = "feed-token-7f3a"
SCHEDULES = [
    {  # nobody on call now: its only rotation starts in 30 days
        "name": "devops",
        "time_zone": "Europe/Berlin",
        "group": "S0DEVOPS",
        "layers": [{"users": ["U0DEVA", "U0DEVB"], "turn": "1w", "start": str(TODAY + timedelta(days=30))}],
    },
    {
        "name": "platform",
        "time_zone": "America/New_York",
        "group": "S0PLATFORM",
        "layers": [{"users": ["U0PLAT1"], "turn": "1d", "handoff": "09:00", "start": "2026-01-01"}],
    },
]


def oncall_env(state: str, schedules: list[dict[str, object]] = SCHEDULES) -> dict[str, str]:
    """A bot's (or `alp`'s) environment with these schedules, a rung every 120 s, no lag watcher."""
    return {
        **ESCALATION_ENV,
        "ALP_ESCALATION__STEP_WAIT_S": "120",  # a rung after a gap comes at once, not after this
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "ALP_KAFKA_LAG__WATCH_INTERVAL_S": "0",
        "ALP_STATE_URL": state,
        "ALP_ONCALL__SCHEDULES": json.dumps(schedules),
        "ALP_ONCALL__FEED_TOKEN": FEED_TOKEN,
    }


def alp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`alp ARGS` with `env` over this process's environment."""
    return run_alp(*args, env=env)
