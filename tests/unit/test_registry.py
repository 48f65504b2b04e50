"""One generic registry behind checks, first steps and actions, and one "did you mean"."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import commands.checks  # noqa: F401  (registers the check targets)
from bot.router import help_text, parse
from commands.actions import ACTIONS
from commands.params import UsageError
from commands.registry import CHECKS, FIRST_STEPS, Registry, did_you_mean


@dataclass(frozen=True)
class Thing:
    name: str


def test_checks_steps_and_actions_share_one_registry_class():
    assert type(CHECKS) is type(FIRST_STEPS) is type(ACTIONS) is Registry


def test_a_registry_keeps_declaration_order_refuses_twins_and_suggests():
    reg: Registry[Thing] = Registry("widget", "Widgets")
    for n in ("gamma", "alpha", "beta"):
        reg.add(Thing(n))
    assert reg.names() == ["gamma", "alpha", "beta"]
    reg.order(["beta"])
    assert reg.names() == ["beta", "gamma", "alpha"]
    with pytest.raises(ValueError, match="widget 'alpha' declared twice"):
        reg.add(Thing("alpha"))
    assert (
        reg.unknown("alpah") == "unknown widget `alpah`. Did you mean `alpha` or `gamma`? Widgets: beta, gamma, alpha"
    )
    assert reg.unknown("zzzz") == "unknown widget `zzzz`. Widgets: beta, gamma, alpha"
    assert reg.section(lambda t: t.name.upper(), "Title:") == ["Title:", "BETA", "GAMMA", "ALPHA"]
    assert reg.section(lambda t: t.name) == ["beta", "gamma", "alpha"]


def test_did_you_mean_names_up_to_three_nearest_best_first():
    assert did_you_mean("helth", ["health", "help", "oncall"]) == " Did you mean `health` or `help`?"
    assert did_you_mean("xyz", ["health"]) == ""
    assert did_you_mean("a", []) == ""


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("check kafak-lag", "unknown check target `kafak-lag`. Did you mean `kafka-lag`"),
        ("do restrat user-service", "unknown action `restrat`. Did you mean `restart`"),
        ("oncal", "unknown command `oncal`. Did you mean `oncall`"),
        ("incident resolv", "unknown incident command `resolv`. Did you mean `resolve`"),
    ],
)
def test_every_unknown_name_gets_the_nearest_declared_ones(words, expected):
    with pytest.raises(UsageError) as err:
        parse(words)
    assert str(err.value).startswith(expected), str(err.value)


def test_unknown_names_list_every_declared_one():
    with pytest.raises(UsageError) as err:
        parse("do frobnicate")
    assert str(err.value).endswith("Actions: " + ", ".join(ACTIONS.names()))
    with pytest.raises(UsageError) as err:
        parse("check frobnicate")
    assert str(err.value).endswith("Targets: " + ", ".join(CHECKS.names()))


def test_help_lists_every_check_and_action_in_declaration_order():
    text = help_text(prog="alp")
    checks = [text.index(f"`{name}`: ") for name in CHECKS.names()]
    assert checks == sorted(checks)
    actions = [text.index(f"`alp do {name}") for name in ACTIONS.names()]
    assert actions == sorted(actions) and min(actions) > max(checks)
    assert help_text("kafak-lag").startswith("No help topic `kafak-lag`. Did you mean `kafka-lag`")


def test_options_help_says_no_default_it_does_not_have():
    """#29: `help kafka-lag` printed "(default: None)" for options without one."""
    from commands.registry import CHECKS

    lines = [line for name in CHECKS.names() for line in CHECKS.get(name).options_help()]
    assert lines and not [line for line in lines if "(default: None)" in line]
    assert not [line for line in lines if line.count("default:") > 1]
