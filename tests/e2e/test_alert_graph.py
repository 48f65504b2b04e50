"""A real alert, end to end: a service made slow in the platform stand-in, the bed's Prometheus rule
(HighResponseTime, testbed.d/prometheus/rules.yml) fires into the bed's Alertmanager, which notifies
the running bot; the group's message graphs the rule's own expression (a PNG in its thread, the
threshold marked, the firing span shaded) and says "still firing", then, after the fault is removed,
"back under the threshold since HH:MM" — judged from Prometheus' samples, not from the alert's status."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from scripts.world.client import StandIns
from tests.support.alertmanager import group_posts, updates_of
from tests.support.processes import wait_until
from tests.support.slack_requests import blocks_text

RULE = "HighResponseTime"
CHANNEL = "C0ALERTDEFAULT"  # no route matches the rule in the test routes: the default channel


@pytest.fixture
def standins(testbed) -> Iterator[StandIns]:  # type: ignore[no-untyped-def]
    if not testbed.get("ALP_PROMETHEUS__URL"):
        pytest.fail("no Prometheus in the test bed: run `scripts/testbed up`")
    s = StandIns.from_env(testbed)
    yield s
    s.reset_traffic()


def _thread_pngs(fake_slack, ts: str) -> list[bytes]:  # type: ignore[no-untyped-def]
    ids = [
        f["id"]
        for c in fake_slack.called("files.completeUploadExternal")
        if c.args.get("thread_ts") == ts
        for f in c.args.get("files") or []
    ]
    return [fake_slack.uploaded[i] for i in ids if fake_slack.uploaded.get(i, b"").startswith(b"\x89PNG")]


def _has_colour(img: Any, rgb: tuple[float, float, float], tol: float = 0.08) -> int:
    return int((np.abs(img[..., :3] - np.array(rgb)).max(axis=-1) < tol).sum())


def _red_line_rows(img: Any) -> int:
    """Rows where red (antialiased: strong red, green and blue alike and low) runs across a third of the width."""
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    red = (r > 0.6) & (g < 0.6) & (b < 0.6) & (np.abs(g - b) < 0.15)
    return int((red.sum(axis=1) > img.shape[1] / 3 / 2).sum())  # dashed: about half of it is drawn


def test_a_real_alert_is_posted_with_its_expression_graphed_then_back_under(am_bot, fake_slack, standins) -> None:  # type: ignore[no-untyped-def]
    standins.set_traffic("auth-service", rps=20, latency_ms=900, error_ratio=0)
    msg = wait_until(lambda: group_posts(fake_slack, RULE, CHANNEL), timeout=120, interval=0.5)[0]
    text = blocks_text(msg.args["blocks"])
    # the rule's 30 s rate is still filling with 900 ms requests when it fires: over 500 ms, under 1 s
    assert re.search(r"service=auth-service\}: still firing: [5-9]\d\dms now, threshold > 500ms", text), text
    assert re.search(r"The alert's expression in Prometheus\* \(at \d\d:\d\d UTC\)", text), text  # judged when
    ts = msg.response["ts"]
    png = wait_until(lambda: _thread_pngs(fake_slack, ts), timeout=30)[0]
    import matplotlib.image

    img = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert img.shape[0] > 250 and img.shape[1] > 600
    assert _has_colour(img, (0.122, 0.467, 0.706)) > 200  # the series (tab:blue) drawn
    assert _red_line_rows(img) >= 1  # the threshold: a dashed red line across the chart

    standins.reset_traffic()  # the fault removed: p95 falls, Prometheus resolves, Alertmanager notifies

    def back_under() -> str | None:
        for u in updates_of(fake_slack, ts):
            t = blocks_text(u.args["blocks"])
            if "back under the threshold since" in t:
                return t
        return None

    resolved = wait_until(back_under, timeout=150, interval=0.5)
    assert re.search(
        r"auth-service\}: back under the threshold since \d\d:\d\d UTC \((under a minute|\d+ min)\): \d+ms now",
        resolved,
    )
    assert "still firing" not in resolved
    wait_until(lambda: len(_thread_pngs(fake_slack, ts)) >= 2, timeout=30)  # the recovery graphed too
