"""Run the scenario catalogue (tests/scenarios.py) against the test bed's real servers.

Every scenario also holds the rules that apply to all reports: no suggestion on an OK
finding, a healthy state suggests nothing, a blind state exits 3, the headline names the
worst finding, and each root cause is stated once."""

from __future__ import annotations

from collections import Counter

import pytest

from commands.checks import CHECKS
from commands.report import Severity
from tests.support.checks_env import run
from tests.support.scenario_world import World
from tests.support.scenarios import SCENARIOS, Scenario

pytestmark = pytest.mark.slow


def test_the_catalogue_covers_every_target_in_every_state():
    covered = {(s.target, s.state) for s in SCENARIOS}
    # kafka-lag: issue #12's own catalogue; oncall reads schedules and Slack, not the platform
    # (tests/e2e/test_oncall_check.py drives it covered, gapped and without Slack)
    targets = set(CHECKS.names()) - {"kafka-lag", "oncall"}
    missing = {(t, st) for t in targets for st in ("fault", "healthy", "blind")} - covered
    assert not missing, sorted(missing)
    assert len({s.id for s in SCENARIOS}) == len(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
async def test_scenario(scenario: Scenario, request, testbed, kube_admin, kubelet, platform, ns, unique):
    if scenario.metrics:
        request.getfixturevalue("metrics_api")
    world = World(testbed, kube_admin, kubelet, platform, ns, unique)
    world.runbook_configmaps()  # a platform namespace holds them; a variant may delete one
    try:
        cfg = await scenario.setup(world)
        params = {k: v.replace("{unique}", unique) if isinstance(v, str) else v for k, v in scenario.params.items()}
        report = await run(scenario.target, cfg, **params)
    finally:
        await world.close()
    seen = [(f.severity.value, f.title, [s.label for s in f.suggestions]) for f in report.findings]

    assert report.severity is scenario.severity, seen
    assert report.exit_code == scenario.severity.exit_code
    worst = report.worst_first()[0]
    assert worst.severity is Severity.OK or worst.title in report.headline, report.headline
    assert scenario.headline.replace("{unique}", unique) in report.headline, (report.headline, seen)
    if scenario.actions is not None:
        assert {s.action for s in worst.suggestions} == scenario.actions, seen
    for f in report.findings:
        assert f.severity is not Severity.OK or not f.suggestions, f"suggestion on an OK finding: {f.title}"
    if scenario.state == "healthy":
        assert all(f.severity is Severity.OK for f in report.findings), seen
    said = [f.title + f.detail + str(f.evidence) + str(f.suggestions) for f in report.findings]
    for phrase in scenario.absent:
        assert not any(phrase.lower() in text.lower() for text in said), (phrase, seen)
    for phrase in scenario.present:
        assert any(phrase.replace("{unique}", unique) in text for text in said), (phrase, said)
    for f in report.findings:
        assert f.probe.split(", ")[0] not in scenario.ok or f.severity is Severity.OK, (f.probe, seen)
    assert not scenario.ok or {p for f in report.findings for p in f.probe.split(", ")} >= set(scenario.ok), seen
    titles = Counter((f.severity, f.title) for f in report.findings)
    assert max(titles.values()) == 1, f"a cause stated twice: {titles.most_common(1)}"
