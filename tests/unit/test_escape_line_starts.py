"""A `>` that Slack would read as a quote marker is made inert after any line start Slack honours:
a carriage return, a Unicode line or paragraph separator, and after Unicode spaces (NBSP)."""

from __future__ import annotations

import pytest

from bot.render.escape import ZWSP, escape


@pytest.mark.parametrize(
    "text",
    ["ok\n> x", "ok\r> x", "\u00a0> x", "ok\u2028> x", "ok\u2029> x", "ok\r\n\u00a0\u2003> x", "ok\x85> x", "> x"],
)
def test_a_quote_marker_after_any_line_start_is_inert(text: str) -> None:
    out = escape(text)
    at = out.index("&gt;")
    assert out[at - 1] == ZWSP, repr(out)


def test_a_greater_than_sign_inside_a_line_is_left_as_is() -> None:
    assert escape("a > b") == "a &gt; b"
