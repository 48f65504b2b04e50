"""Runbook files against the test bed: three of the runbook's symptoms written as data
(tests/runbook/runbook-symptoms.yaml) judge the scenario catalogue as the built-in checks do, and
the other probe kinds read the real servers, with nothing read being UNKNOWN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runbook import load
from commands.config import ChecksConfig
from commands.report import Report, Severity
from commands.runbook import symptoms
from tests.support.checks_env import run
from tests.support.scenario_world import World
from tests.support.scenarios import SCENARIOS, Scenario

HERE = Path(__file__).resolve().parent
AS_DATA = {"scheduler": "slow-selection", "auth-latency": "auth-slow", "db-connectivity": "db-connect"}


@pytest.fixture(scope="module")
def data_symptoms() -> Iterator[None]:
    config = ChecksConfig()
    loaded, problems = load(HERE / "runbook", config)
    assert problems == []
    symptoms.apply(loaded, config)
    yield
    symptoms.apply(symptoms.LoadResult(), config)


def actions(report: Report) -> set[str]:
    return {s.action for f in report.findings for s in f.suggestions}


# The catalogue's first three states of each target; the later variants (`target-state-variant`) test
# refinements of the built-in checks (e.g. timeout lines counted as times) that a data probe does not claim.
@pytest.mark.parametrize(
    "scenario", [s for s in SCENARIOS if s.target in AS_DATA and s.id == f"{s.target}-{s.state}"], ids=lambda s: s.id
)
async def test_a_symptom_as_data_judges_like_the_built_in_check(
    scenario: Scenario, data_symptoms, testbed, kube_admin, kubelet, platform, ns, unique
):
    world = World(testbed, kube_admin, kubelet, platform, ns, unique)
    world.runbook_configmaps()  # as in the scenario catalogue
    try:
        cfg = await scenario.setup(world)
        built_in = await run(scenario.target, cfg)
        as_data = await run(AS_DATA[scenario.target], cfg)
    finally:
        await world.close()
    seen = [(f.severity.value, f.title, [s.label for s in f.suggestions]) for f in as_data.findings]
    assert as_data.severity is built_in.severity is scenario.severity, seen
    assert as_data.worst_first()[0].severity is built_in.worst_first()[0].severity
    assert actions(as_data) == actions(built_in), seen
    for f in as_data.findings:
        assert f.severity is not Severity.OK or not f.suggestions, f"suggestion on an OK finding: {f.title}"
