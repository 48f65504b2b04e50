"""Masking hostile text takes time linear in its length: four times the text, about four times
the CPU time (a finder that re-reads the rest of a line at each secret word made a 1 MB line of
`password=` take 279 s). Ratios of two sizes on this thread's CPU clock, not wall-clock limits."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import pytest

import commands.masking.redact as redact_module
from commands.masking.redact import redact, redact_lines

SHAPES = {
    "key=key=": "password=",
    "key= ": "password= ",
    "{Key:": "{Password:",
    "word ": "secret ",
    "leet key": "P@$$w0rd: ",
    "translated key": "пароль=x ",
    "look-alike key": "\u0440\u0430ssword=x ",
    "PEM begin lines": "-----BEGIN PRIVATE KEY-----\n",
    "token prefix": "xoxb-1-",
    "quoted escapes": '"password":"\\"',
    "escaped JSON": r"\\\"token\\\":\\\"",
}


def _cost(run: Callable[[int], object], n: int) -> float:
    """The best of two runs (one for the larger size) on this thread's CPU clock, the garbage collector off: in the one process that runs
    the whole suite, other threads (fake servers answering bots) and collections of an older, larger heap would
    be counted in the larger size's time otherwise."""
    best = float("inf")
    gc.collect()
    gc.disable()
    try:
        for _ in range(1 if n > 100_000 else 2):
            t = time.thread_time()
            run(n)
            best = min(best, time.thread_time() - t)
    finally:
        gc.enable()
    return best


def _ratio(run: Callable[[int], object]) -> tuple[float, float]:
    run(1000)  # warm: rule sets compiled, tables loaded
    return _cost(run, 100_000), _cost(run, 400_000)


@pytest.fixture
def read_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hostile line read by every finder, as a line under the hostile cap is (`HOSTILE_LINE` lifted)."""
    monkeypatch.setattr(redact_module, "HOSTILE_LINE", 10**9)


@pytest.mark.usefixtures("read_every_line")
@pytest.mark.parametrize("piece", SHAPES.values(), ids=SHAPES.keys())
def test_masking_a_hostile_text_scales_linearly(piece: str) -> None:
    small, large = _ratio(lambda n: redact((piece * (n // len(piece) + 1))[:n]))
    assert large < 6 * max(small, 0.01), (small, large)


@pytest.mark.usefixtures("read_every_line")
def test_masking_many_hostile_lines_scales_linearly() -> None:
    def run(n: int) -> object:
        half = n // 20
        return redact_lines(["password:"] * half + ["- x"] * half)

    small, large = _ratio(run)
    assert large < 6 * max(small, 0.01), (small, large)


def test_a_value_longer_than_the_read_window_is_masked_to_its_end() -> None:
    value = "Qk7" + "x9Z" * 1500  # 4,503 characters, past the words read after `password`
    out = redact(f"the password for the db is {value} ok")
    assert "x9Zx9Z" not in out and out.endswith(" ok"), out[:200]


@pytest.mark.parametrize("piece", ["password=", "secret ", "{Password:"])
def test_masking_a_line_dense_in_secret_words_whole_scales_linearly(piece: str) -> None:
    small, large = _ratio(lambda n: redact((piece * (n // len(piece) + 1))[:n]))
    assert large < 6 * max(small, 0.01), (small, large)


def test_a_line_too_dense_in_secret_words_is_masked_whole_saying_so() -> None:
    line = "password=hunter2x " * 1000
    out = redact_lines(["before ok", line, "after ok"])
    assert out[0] == "before ok" and out[2] == "after ok", out
    assert "hunter2x" not in out[1] and "masked whole" in out[1] and f"{len(line):,}" in out[1], out[1][:200]


def test_a_long_line_with_a_few_secrets_is_read_as_usual() -> None:
    line = "x" * 9000 + " password=hunter2x " + "y" * 9000
    out = redact(line)
    assert "hunter2x" not in out and "masked whole" not in out and out.count("x") > 8000
