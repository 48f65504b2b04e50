"""`alp-bot`'s start-up and shutdown order (bot/server.py's cleanup contexts): a start-up step that
fails after the escalation reconciler started stops it again and gives its lease up."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime

import sqlalchemy as sa

from escalation.state.schema import leases
from tests.support.bot_env import bot_env
from tests.support.processes import ROOT


def test_a_bot_on_a_taken_port_stops_its_reconciler_and_releases_the_lease(testbed, fake_slack, platform, tmp_path):
    state = tmp_path / "state.db"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            **bot_env(testbed, fake_slack, platform, f"sqlite:///{state}", ALP_ESCALATION__LEADER_LEASE_S="60"),
            "ALP_HTTP_HOST": "127.0.0.1",
            "ALP_HTTP_PORT": str(port),
        }
        out = subprocess.run(
            [sys.executable, "-m", "bot.server"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    assert out.returncode == 1, out.stderr
    assert "listening" not in out.stdout
    engine = sa.create_engine(f"sqlite:///{state}")
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(leases.c.holder, leases.c.expires_at)).all()
    engine.dispose()
    expires_at = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    # the reconciler had taken the lease (a row), and gave it up on the way out: a standby need not wait 60 s
    assert expires_at <= datetime.now(UTC), f"the lease is still held by {row.holder} until {expires_at}"
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr  # in one line, not a traceback
    assert "Traceback" not in out.stderr
