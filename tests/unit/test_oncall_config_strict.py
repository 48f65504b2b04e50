"""Schedule configuration read strictly: a key alp does not know (a layer's `time_zone`, a typo) is
refused with the closest key, and a file or environment value that does not parse is a clear
configuration error (the exit of `alp`/alp-bot), never a traceback."""

from __future__ import annotations

import json

import pytest

from bot.settings import ConfigError, load_settings

LAYER = {"users": ["U0A", "U0B"], "turn": "1d", "start": "2026-01-01"}


@pytest.mark.parametrize(
    "schedule,says",
    [
        (  # one zone per schedule: the tester put it on the layer and got UTC handoffs silently
            {"time_zone": "UTC", "layers": [{**LAYER, "time_zone": "Europe/Berlin"}]},
            "oncall.schedules.0.layers.0.time_zone: `time_zone` is a key of the schedule, not of a layer",
        ),
        ({"layers": [{**LAYER, "hanodff": "10:00"}]}, "unknown key `hanodff`. Did you mean `handoff`?"),
        ({"layers": [LAYER], "timezone": "Europe/Berlin"}, "unknown key `timezone`. Did you mean `time_zone`?"),
        ({"layers": [LAYER], "admin": ["U0A"]}, "Did you mean `admins`?"),
    ],
)
def test_an_unknown_key_in_a_schedule_is_refused_with_the_closest_one(monkeypatch, schedule, says):
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps([{"name": "devops", **schedule}]))
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert says in str(err.value)


def test_an_unknown_key_of_oncall_itself_is_refused(monkeypatch, tmp_path):
    path = tmp_path / "alp.toml"
    path.write_text('[oncall]\nfeed_tokn = "x"\n')
    monkeypatch.setenv("ALP_CONFIG", str(path))
    with pytest.raises(ConfigError, match="Did you mean `feed_token`"):
        load_settings()


@pytest.mark.parametrize("value", ['[{"name": "devops",', "{not json}", "[1, 2"])
def test_schedules_that_are_not_json_are_a_clear_configuration_error(monkeypatch, value):
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert "ALP_ONCALL__SCHEDULES" in text and "JSON" in text and "Traceback" not in text


@pytest.mark.parametrize(
    "toml,says",
    [
        ('[[oncall.schedules]\nname = "devops"\n', "line 1"),
        ('[[oncall.schedules]]\nname = "devops\n', "line 2"),
        ("[oncall]\nfeed_token = \n", "line 2"),
    ],
)
def test_a_malformed_toml_file_is_a_clear_configuration_error(monkeypatch, tmp_path, toml, says):
    path = tmp_path / "alp.toml"
    path.write_text(toml)
    monkeypatch.setenv("ALP_CONFIG", str(path))
    with pytest.raises(ConfigError) as err:
        load_settings()
    text = str(err.value)
    assert f"ALP_CONFIG={path}" in text and "not valid TOML" in text and says in text


@pytest.mark.parametrize(
    "schedule,place,says",
    [
        ({"layers": [{**LAYER, "users": ["U0A", "alice"]}]}, "layers.0.users.1", "not a Slack user id"),
        ({"layers": [{**LAYER, "users": ["<@U0ANNA|anna>"]}]}, "layers.0.users.0", "Did you mean `U0ANNA`?"),
        ({"layers": [{**LAYER, "users": ["u0anna"]}]}, "layers.0.users.0", "Did you mean `U0ANNA`?"),
        ({"layers": [{**LAYER, "users": ["@anna"]}]}, "layers.0.users.0", "Copy member ID"),
        ({"layers": [{**LAYER, "users": ["anna@example.com"]}]}, "layers.0.users.0", "Copy member ID"),
        ({"layers": [{**LAYER, "users": ["S0DEVOPS"]}]}, "layers.0.users.0", "a user group's id"),
        ({"layers": [{**LAYER, "users": ["UTC"]}]}, "layers.0.users.0", "not a Slack user id"),
        ({"layers": [LAYER], "admins": ["lead"]}, "admins.0", "not a Slack user id"),
        ({"layers": [LAYER], "group": "@devops-oncall"}, "group", "not a Slack user group id"),
        ({"layers": [LAYER], "group": "devops-oncall"}, "group", "not a Slack user group id"),
        ({"layers": [LAYER], "group": "s012devops"}, "group", "Did you mean `S012DEVOPS`?"),
        ({"layers": [LAYER], "group": "<!subteam^S012DEVOPS|@devops-oncall>"}, "group", "Did you mean `S012DEVOPS`?"),
        ({"layers": [LAYER], "group": "U0ANNA"}, "group", "a person's id"),
    ],
)
def test_people_and_groups_that_are_not_slack_ids_are_refused_at_load(monkeypatch, schedule, place, says):
    """The one Slack-id rule of the commands (escalation.oncall.config): a schedule naming someone
    who is no Slack id would page nobody; refused where it is written, with the id meant if it shows."""
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps([{"name": "devops", **schedule}]))
    with pytest.raises(ConfigError) as err:
        load_settings()
    line = next((x for x in str(err.value).splitlines() if f"oncall.schedules.0.{place}:" in x), "")
    assert says in line, str(err.value)


def test_slack_ids_of_any_length_are_accepted(monkeypatch):
    layer = {**LAYER, "users": ["U0A", "W012AB3CD", "U0123456789ABCDEFGH"]}
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps([{"name": "devops", "group": "S0D", "layers": [layer]}]))
    assert load_settings().oncall.schedules[0].layers[0].users == layer["users"]


SCHEDULES = [
    {"name": "devops", "time_zone": "UTC", "layers": [LAYER]},
    {"name": "platform", "time_zone": "UTC", "layers": [LAYER]},
]


@pytest.mark.parametrize(
    "var,value,says",
    [
        ("ALP_ESCALATION__ONCALL__PRIMARY_SCHEDULE", "devopz", "Did you mean `devops`?"),
        ("ALP_ESCALATION__ONCALL__SECONDARY_SCHEDULE", "platfrom", "Did you mean `platform`?"),
        ("ALP_ESCALATION__ONCALL__PRIMARY_SCHEDULE", "zzzz", "schedules: devops, platform"),
    ],
)
def test_a_rung_naming_a_schedule_that_does_not_exist_is_refused(monkeypatch, var, value, says):
    """The tester's `…PRIMARY_SCHEDULE=devopz`: exit 0 and the ladder paged the fixed handle."""
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps(SCHEDULES))
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    field = var.removeprefix("ALP_").replace("__", ".").lower()
    assert f"{field}: no schedule `{value}`" in str(err.value) and says in str(err.value)


def test_a_rung_schedule_named_with_no_schedules_configured_is_refused_too(monkeypatch):
    monkeypatch.setenv("ALP_ESCALATION__ONCALL__PRIMARY_SCHEDULE", "devops")
    with pytest.raises(ConfigError, match="no schedule `devops`"):
        load_settings()


def test_the_rung_defaults_and_never_stay_valid(monkeypatch):
    """`devops`/`platform` are used when configured (README); '' never pages a schedule."""
    monkeypatch.setenv("ALP_ONCALL__SCHEDULES", json.dumps(SCHEDULES[:1]))
    monkeypatch.setenv("ALP_ESCALATION__ONCALL__SECONDARY_SCHEDULE", "")
    settings = load_settings()
    assert settings.escalation.oncall.primary_schedule == "devops"
    monkeypatch.delenv("ALP_ONCALL__SCHEDULES")
    monkeypatch.delenv("ALP_ESCALATION__ONCALL__SECONDARY_SCHEDULE")
    assert load_settings().escalation.oncall.secondary_schedule == "platform"
