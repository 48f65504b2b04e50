"""Alert routes: matching, `{label}` substitution and validation, defaults, configuration."""

from __future__ import annotations

import json

import pytest

from bot.settings import ConfigError, load_settings
from commands.alerts import AlertRoute, default_routes, route_for
from commands.params import UsageError


@pytest.mark.parametrize(
    ("alertname", "check"),
    [
        ("KafkaConsumerGroupLag", "kafka-lag"),
        ("KafkaConsumerLagHigh", "kafka-lag"),
        ("PostgresqlDeadlocks", "deadlocks"),
        ("PostgresqlTooManyConnections", "db-load"),
        ("PostgresqlDown", "db-connectivity"),
        ("RedisMemoryHigh", "redis"),
        ("RedisLowHitRatio", "redis"),
        ("KubePodCrashLooping", "health"),
        ("KubePodNotReady", "health"),
        ("HighLatency", "latency"),
        ("AuthServiceHighResponseTime", "latency"),
    ],
)
def test_default_routes_answer_the_platforms_obvious_alerts(alertname: str, check: str) -> None:
    route = route_for({"alertname": alertname, "namespace": "adaptive-learning-production"}, default_routes())
    assert route is not None and route.check == check


def test_an_alert_no_default_route_knows_gets_none() -> None:
    assert route_for({"alertname": "Watchdog"}, default_routes()) is None


def test_first_match_wins_and_regexes_match_the_whole_value() -> None:
    routes = [
        AlertRoute(match={"alertname": "~Redis", "severity": "critical"}, check="redis", priority="P1"),
        AlertRoute(match={"alertname": "~Redis.*"}, check="redis"),
        AlertRoute(match={"alertname": "~.*"}, check="health"),
    ]
    assert route_for({"alertname": "RedisDown", "severity": "critical"}, routes) is routes[1]
    assert route_for({"alertname": "Redis", "severity": "critical"}, routes) is routes[0]
    assert route_for({"alertname": "Other"}, routes) is routes[2]
    assert route_for({"severity": "critical"}, routes) is None  # a label the route needs is missing


def test_label_values_fill_the_checks_options_and_are_validated() -> None:
    route = AlertRoute(match={}, check="kafka-lag", args={"group": "{consumergroup}", "samples": "{n}"})
    spec, params, notes = route.params({"consumergroup": "user-service", "n": "4"})
    assert spec.name == "kafka-lag" and params.group == "user-service" and params.samples == 4 and not notes
    _, params, notes = route.params({"consumergroup": "user-service"})
    assert params.samples is None and "no label n" in notes[0]
    with pytest.raises(UsageError, match="--samples"):
        route.params({"consumergroup": "g", "n": "99999"})  # above the check's own bound


def test_routes_come_from_toml_and_bad_ones_stop_the_bot(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    toml = tmp_path / "alp.toml"
    toml.write_text(
        '[alertmanager]\nchannel = "#ops"\n[[alertmanager.routes]]\nmatch = { alertname = "~Kafka.*" }\n'
        'check = "kafka-lag"\nargs = { group = "{consumergroup}" }\npriority = "p1"\n'
    )
    monkeypatch.setenv("ALP_CONFIG", str(toml))
    settings = load_settings()
    assert settings.alertmanager.channel == "#ops"
    assert [(r.check, r.priority) for r in settings.alertmanager.routes] == [("kafka-lag", "P1")]
    assert settings.alertmanager.webhook_token is None  # off by default
    monkeypatch.delenv("ALP_CONFIG")
    for bad, says in (
        ([{"match": {"alertname": "~(unclosed"}, "check": "redis"}], "bad regular expression"),
        ([{"match": {}, "check": "no-such-check"}], "not a check target"),
        ([{"match": {}, "check": "redis", "args": {"nope": "1"}}], "no option 'nope'"),
        ([{"match": {}, "check": "redis", "priority": "P9"}], "P0, P1 or P2"),
    ):
        monkeypatch.setenv("ALP_ALERTMANAGER__ROUTES", json.dumps(bad))
        with pytest.raises(ConfigError, match=r"alertmanager\.routes") as err:
            load_settings()
        assert says in str(err.value)


async def test_a_group_has_one_firing_episode_however_many_replicas_start_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from escalation.state.alert_groups import AlertGroups
    from escalation.state.store import Store

    store = Store(f"sqlite:///{tmp_path}/state.db")
    one, two = AlertGroups(store.db), AlertGroups(store.db)  # two replicas over one state store
    first, created = await one.start("{}:{alertname=X}", "C1", None)
    again, created_again = await two.start("{}:{alertname=X}", "C1", None)
    assert created and not created_again and again.id == first.id
    first.status = "resolved"
    await one.save(first)
    later, created_later = await two.start("{}:{alertname=X}", "C1", 7)  # fires again after resolving
    assert created_later and later.id != first.id and later.previous_incident_id == 7
    await store.close()


def test_a_hostile_label_value_cannot_stall_route_matching() -> None:
    """Default route regexes like `.*(kafka.*lag).*` backtrack quadratically in Python's `re`:
    a 200 kB alertname held the event loop for minutes. Routes match in linear time (RE2, as
    Prometheus/Alertmanager themselves do)."""
    import threading

    result: list[object] = []
    worker = threading.Thread(
        target=lambda: result.append(route_for({"alertname": "kafka" * 40000}, default_routes())), daemon=True
    )
    worker.start()
    worker.join(timeout=10)
    assert result == [None], "route matching of a 200 kB label value did not finish within 10 s"


@pytest.mark.parametrize("regex", ["(a)\\1", "(?=x)x", "(?<!a)b"])
def test_regexes_alertmanager_would_reject_stop_the_bot(regex: str) -> None:
    """Alertmanager's matchers are RE2: back-references and look-arounds are not regexes there."""
    with pytest.raises(ValueError, match=r"match\.alertname: bad regular expression"):
        AlertRoute.model_validate({"match": {"alertname": "~" + regex}, "check": "redis"})
