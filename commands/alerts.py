"""Which runbook check answers which Prometheus alert: the routes and their defaults.

A route matches an alert's labels (all of `match` must hold; a value starting with `~` is a
regular expression matched against the whole label value, as Prometheus anchors them), names
a check target and its options, where `{label}` is replaced by the alert's label value and
the result is validated like any other input. First match wins. Pure data: no Slack, no I/O.
Regexes are RE2 (as in Prometheus and Alertmanager): linear time whatever the label value, so
a hostile label cannot stall the bot; back-references and look-arounds are rejected at start.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

from commands.params import UsageError
from commands.patterns import PatternError, compile_pattern
from commands.registry import CheckSpec

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class AlertRoute(BaseModel):
    """One route: alerts whose labels match get `check` run with `args`; `priority` opens an incident."""

    match: dict[str, str] = Field(description="label -> value (all must match); '~regex' matches the whole value")
    check: str = Field(description="a check target, e.g. kafka-lag")
    args: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="the check's options; '{label}' is replaced by the alert's label value"
    )
    priority: str | None = Field(None, description="P0/P1/P2: open an incident; absent: no incident")
    channel: str | None = Field(None, description="Slack channel for this alert; default: alertmanager.channel")

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: str | None) -> str | None:
        if v is not None and v.upper() not in ("P0", "P1", "P2"):
            raise ValueError(f"priority must be P0, P1 or P2, not {v!r}")
        return v.upper() if v else None

    @field_validator("match")
    @classmethod
    def _regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for label, value in v.items():
            if value.startswith("~"):
                try:
                    compile_pattern(value[1:])
                except PatternError as why:
                    raise ValueError(f"match.{label}: bad regular expression {value[1:]!r}: {why}") from None
        return v

    @model_validator(mode="after")
    def _known_check(self) -> AlertRoute:
        from commands.catalogue import current

        checks = current().checks
        spec = checks.get(self.check)
        if spec is None:
            raise ValueError(f"route check {self.check!r} is not a check target ({', '.join(checks.names())})")
        unknown = sorted(set(self.args) - set(spec.params.model_fields))
        if unknown:
            raise ValueError(f"route check {self.check!r} has no option {unknown[0]!r}")
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        for name, want in self.match.items():
            have = labels.get(name)
            if have is None:
                return False
            if want.startswith("~"):
                if compile_pattern(want[1:]).fullmatch(have) is None:
                    return False
            elif have != want:
                return False
        return True

    def params(self, labels: dict[str, str]) -> tuple[CheckSpec, Any, list[str]]:
        """The check and its validated options for these labels, plus notes on options left at
        their defaults (a `{label}` the alert does not carry). Raises UsageError for a value
        that is not valid input for the check (it names the option and the label)."""
        from commands.catalogue import current

        checks = current().checks
        spec = checks.get(self.check)
        assert spec is not None  # checked at start
        raw: dict[str, Any] = {}
        notes: list[str] = []
        for name, value in self.args.items():
            if not isinstance(value, str):
                raw[name] = value
                continue
            missing = [p for p in _PLACEHOLDER.findall(value) if p not in labels]
            if missing:
                notes.append(f"--{name.replace('_', '-')} left at its default: the alert has no label {missing[0]}")
                continue
            raw[name] = _PLACEHOLDER.sub(lambda m: labels[m.group(1)], value)
        try:
            return spec, spec.params.model_validate(raw), notes
        except ValidationError as err:
            first = err.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "options"
            raise UsageError(
                f"route {self.check}: --{name.replace('_', '-')} {raw.get(name, '')!r} from the alert's labels "
                f"is not valid: {first['msg']}"
            ) from None


def default_routes() -> list[AlertRoute]:
    """Routes for the platform's obvious alerts (names as kube-prometheus, kafka_exporter,
    postgres_exporter and redis_exporter ship them, and the runbook's own wording)."""
    raw: list[dict[str, Any]] = [
        {
            "match": {"alertname": "~(?i).*(consumer.?(group)?.?lag|kafka.*lag).*"},
            "check": "kafka-lag",
            "args": {"group": "{consumergroup}"},
            "priority": "P2",
        },
        {"match": {"alertname": "~(?i).*(postgres|pg).*deadlock.*"}, "check": "deadlocks", "priority": "P1"},
        {"match": {"alertname": "~(?i).*(postgres|pg).*connection.*"}, "check": "db-load", "priority": "P1"},
        {
            "match": {"alertname": "~(?i).*(postgres|pg).*(down|unreachable).*"},
            "check": "db-connectivity",
            "priority": "P0",
        },
        {"match": {"alertname": "~(?i).*redis.*(memory|hit|miss|evict).*"}, "check": "redis", "priority": "P2"},
        {"match": {"alertname": "~(?i).*pod.*(crash.?loop|not.?ready|restart).*"}, "check": "health", "priority": "P1"},
        {"match": {"alertname": "~(?i).*(oom|memory.?leak).*"}, "check": "memory", "priority": "P2"},
        {"match": {"alertname": "~(?i).*(latency|response.?time|slow).*"}, "check": "latency", "priority": "P2"},
    ]
    # Built, not validated: validating a route imports every check (to know its name and options),
    # a second of a terminal run that never reads a route; tests/unit/test_alert_routes.py validates these.
    return [AlertRoute.model_construct(**{"args": {}, "priority": None, "channel": None, **r}) for r in raw]


class AlertmanagerSettings(BaseModel):
    """Alert intake (`POST /alertmanager`) and silences (Alertmanager API v2)."""

    webhook_token: SecretStr | None = Field(
        None, description="Bearer token Alertmanager sends (http_config.authorization); unset: endpoint off (404)"
    )
    url: str | None = Field(None, description="Alertmanager's base URL, for silences and what still fires")
    routes: list[AlertRoute] = Field(default_factory=default_routes, description="first match wins")
    channel: str = Field("#alerts", description="Where alerts go when their route names no channel")
    auto_resolve: bool = Field(True, description="A resolved alert group resolves its incident")
    silence_risk: str = Field(
        "disruptive", description="Who may silence: the people allowed remediations of this risk (safe or disruptive)"
    )
    silence_hours: list[float] = Field(default_factory=lambda: [1.0, 4.0], description="Silence buttons, in hours")
    check_reuse_s: float = Field(
        30, ge=0, description="A routed check's report is reused by identical alerts arriving within this window"
    )
    post_rate_per_s: float = Field(1.0, gt=0, description="Messages per second per channel (Slack: about 1)")
    post_burst: int = Field(5, ge=1, description="Messages a channel may take at once before pacing starts")
    concurrency: int = Field(4, ge=1, le=64, description="Alert groups handled at once (the rest wait their turn)")
    start_claim_s: float = Field(
        300,
        gt=0,
        description="An episode its starter has not saved this long after it started lost its starter (died): "
        "the next notification of the group carries it on (longer than any check)",
    )
    max_alerts_shown: int = Field(10, ge=1, le=30, description="Alerts listed in a message; the rest are counted")

    @field_validator("silence_risk")
    @classmethod
    def _risk(cls, v: str) -> str:
        if v not in ("safe", "disruptive"):  # a silence is one click: no two-person rule behind it
            raise ValueError("silence_risk must be safe or disruptive")
        return v


def route_for(labels: dict[str, str], routes: list[AlertRoute]) -> AlertRoute | None:
    """The first route whose `match` holds for these labels."""
    return next((r for r in routes if r.matches(labels)), None)
