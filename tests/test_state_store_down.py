"""Issue #13 (backend errors): the state store at ALP_STATE_URL down or refusing the bot's password
is an answer naming it, never a traceback, in the terminal's commands that read it."""

from __future__ import annotations

import socket

import pytest

from tests.test_terminal_masking import alp


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def state_urls(testbed: dict[str, str]) -> list[str]:
    wrong_password = testbed["ALP_POSTGRES_DSN"].replace("alp-testbed-pw", "Wr0ng-pw-42")
    return [f"postgresql://alp:S3cret-pw@127.0.0.1:{closed_port()}/alp", wrong_password]


@pytest.mark.parametrize(
    "words", [["incident", "list"], ["--json", "incident", "list"], ["audit"], ["incident", "ack", "3"]]
)
def test_a_state_store_down_or_refusing_the_password_is_named_without_a_traceback(testbed, words):
    for url in state_urls(testbed):
        out = alp(*words, env={"ALP_STATE_URL": url})
        said = out.stdout + out.stderr
        assert out.returncode not in (0, 2), said
        assert "Traceback" not in said, said
        assert "state store" in said and "PostgreSQL" in said, said
        assert "S3cret-pw" not in said and "Wr0ng-pw-42" not in said, said
