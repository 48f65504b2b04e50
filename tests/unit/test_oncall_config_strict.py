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
