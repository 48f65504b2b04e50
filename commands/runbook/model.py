"""The runbook as data: the shape of a symptom file (`$ALP_RUNBOOK_DIR/*.yaml`), as pydantic models.

A file holds `symptoms:` (new check targets), `extend:` (probes and remedies added to a built-in
target) and `services:` (platform services added to the configured ones). Every model forbids
unknown keys, so a typo is an error with its line, not a silently ignored option. The JSON Schema
editors validate against is generated from these models (`alp runbook schema`,
commands/runbook/schema.json).

Thresholds are in the probe's own unit (stated per kind below); `direction: below` judges a
value that is bad when low (a hit ratio). A probe that reads nothing is UNKNOWN, never OK.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from commands.config import ServiceSpec

NAME = r"^[a-z][a-z0-9-]{1,39}$"  # a check target's name: `/alp check <name>`
PROBE_ID = r"^[a-z][a-z0-9_]{0,39}$"  # a probe's id: referenced by remedies' `when` and templates


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProbeBase(_Strict):
    """What every probe states: its id, its thresholds (in the probe's unit) and their direction."""

    kind: str  # each kind narrows it to its Literal
    id: str = Field(pattern=PROBE_ID, description="Unique within the symptom; remedies and templates name it")
    title: str | None = Field(None, max_length=150, description="What the finding calls it (default: id and kind)")
    warning: float | None = Field(None, description="WARNING from this value (in the probe's unit)")
    critical: float | None = Field(None, description="CRITICAL from this value (in the probe's unit)")
    direction: Literal["above", "below"] = Field("above", description="`below`: bad when the value is low")

    @model_validator(mode="after")
    def _ordered(self) -> ProbeBase:
        w, c = self.warning, self.critical
        if w is not None and c is not None and (c < w if self.direction == "above" else c > w):
            word = "above" if self.direction == "above" else "below"
            raise ValueError(f"critical ({c:g}) must be at or {word} warning ({w:g}) when direction is {word}")
        return self


class InNamespace(ProbeBase):
    """Probes that read a namespace: the platform's (ALP_NAMESPACE) unless `namespace` is given, or the
    infrastructure namespace (ALP_PLATFORM__INFRA_NAMESPACE) with `infrastructure: true`."""

    namespace: str | None = Field(None, max_length=63, description="Default: the platform's namespace")
    infrastructure: bool = Field(False, description="Read the infrastructure namespace (postgres, redis, kafka)")

    def where(self, platform_ns: str, infra_ns: str) -> str:
        return self.namespace or (infra_ns if self.infrastructure else platform_ns)


class PodsProbe(InNamespace):
    """Pods by label selector. Unit: pods (not running/ready, restarted over `restarts_min` times, or OOMKilled)."""

    kind: Literal["pods"]
    selector: str = Field(min_length=1, max_length=250, description="Label selector, e.g. app=billing-service")
    measure: Literal["not_ready", "restarts", "oom_killed"] = "not_ready"


class LogsProbe(InNamespace):
    """Log lines of the pods matching `selector` over the log window (ALP_LOGS__SINCE_S, every container).

    Unit: matching lines in the log window when `field` is unset (the rate per minute is shown beside); with `field` (`name=12`, `name: 1.2s`,
    `"name": 12`), that number's `stat` among the matching lines, in milliseconds when the value
    carries a time unit (ms, s, us), else as logged."""

    kind: Literal["logs"]
    selector: str = Field(min_length=1, max_length=250)
    pattern: str = Field(min_length=1, max_length=500, description="RE2 pattern a line must match")
    levels: list[str] = Field(
        default_factory=list, description="Only lines at these levels (e.g. [ERROR, FATAL]); empty: any level"
    )
    field: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="A numeric field: name=123")
    stat: Literal["p50", "p95", "max"] = "p95"
    min_lines: int = Field(1, ge=1, description="Fewer matching lines than this: too little to judge")

    @model_validator(mode="after")
    def _known_levels(self) -> LogsProbe:
        from commands.log_levels import LEVELS  # a line's level decides (commands.log_levels.line_level)

        unknown = [lv for lv in self.levels if lv.lower() not in LEVELS]
        if unknown:
            raise ValueError(f"unknown level(s) {', '.join(unknown)}; known: {', '.join(sorted(LEVELS))}")
        return self


class EventsProbe(InNamespace):
    """Warning events in a namespace whose reason or message matches `pattern`. Unit: events."""

    kind: Literal["events"]
    pattern: str = Field(".", min_length=1, max_length=500, description="RE2 pattern on reason and message")


def _one_target(probe: Any, fields: tuple[str, ...]) -> None:
    given = [f for f in fields if getattr(probe, f) is not None]
    if given != [fields[0]] and given != ["service"]:
        raise ValueError(f"give either `{fields[0]}` or `service`")


class HttpProbe(ProbeBase):
    """One GET of `url`, or of `path` on a configured service (`service: billing-service`). Unit:
    milliseconds to the answer. A status outside `expect_status` or a body not matching `body_pattern`
    is CRITICAL whatever the time."""

    kind: Literal["http"]
    url: str | None = Field(None, pattern=r"^https?://", max_length=500)
    service: str | None = Field(None, max_length=63, description="A platform service (its configured URL)")
    path: str = Field("/health", pattern=r"^/", max_length=200, description="With `service`: the path to GET")
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    body_pattern: str | None = Field(None, max_length=500, description="RE2 pattern the body must match")

    @model_validator(mode="after")
    def _target(self) -> HttpProbe:
        _one_target(self, ("url", "service"))
        return self


class TcpProbe(ProbeBase):
    """A TCP connect to `host`:`port`, or to a service: a platform service (its configured URL) or
    `postgres`, `redis`, `kafka` (from ALP_POSTGRES_DSN, ALP_REDIS_URL, ALP_KAFKA_BOOTSTRAP). Unit:
    milliseconds; refused or no answer is CRITICAL."""

    kind: Literal["tcp"]
    host: str | None = Field(None, min_length=1, max_length=253)
    port: int | None = Field(None, ge=1, le=65535)
    service: str | None = Field(None, max_length=63)

    @model_validator(mode="after")
    def _target(self) -> TcpProbe:
        if (self.host is None) != (self.port is None):
            raise ValueError("give `host` and `port` together")
        _one_target(self, ("host", "service"))
        return self


class EndpointsProbe(InNamespace):
    """A Kubernetes Service's ready endpoints (`kubectl get endpoints`). Unit: ready addresses; none is
    CRITICAL unless thresholds say otherwise."""

    kind: Literal["endpoints"]
    service: str = Field(min_length=1, max_length=63, description="The Service's name")


class DnsProbe(ProbeBase):
    """A name resolved from the bot. Unit: milliseconds; a name that does not resolve is CRITICAL."""

    kind: Literal["dns"]
    host: str = Field(min_length=1, max_length=253)


class SqlProbe(ProbeBase):
    """One SELECT on the platform's database, in a READ ONLY transaction with a statement timeout and a
    row cap. Unit: the first column of the first row (a number), or the number of rows (`value: rows`)."""

    kind: Literal["sql"]
    query: str = Field(min_length=1, max_length=5000, description="A single SELECT (or WITH … SELECT)")
    value: Literal["first", "rows"] = "first"
    max_rows: int = Field(100, ge=1, le=1000)


class RedisInfoProbe(ProbeBase):
    """A field of Redis INFO. Unit: the field's own; counters (`rate: true`) are judged per second over
    the rate window (ALP_CHECKS__THRESHOLDS__RATE_WINDOW_S), never as lifetime totals."""

    kind: Literal["redis_info"]
    field: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$", description="e.g. evicted_keys, used_memory")
    rate: bool = Field(False, description="A counter: judge its increase per second over the window")


class RedisKeysProbe(ProbeBase):
    """Keys matching a glob (SCAN, bounded by ALP_CHECKS__REDIS__SCAN_LIMIT). Unit: keys."""

    kind: Literal["redis_keys"]
    pattern: str = Field(min_length=1, max_length=200)


class KafkaLagProbe(ProbeBase):
    """A consumer group judged by the kafka-lag rules (Burrow's OK/WARN/STALL/STOP). Unit: messages of lag
    (thresholds optional: the lag rules judge by themselves)."""

    kind: Literal["kafka_lag"]
    group: str = Field(min_length=1, max_length=249)


class UsageProbe(InNamespace):
    """Container usage from metrics-server over each container's limit. Unit: ratio 0-1 of the limit."""

    kind: Literal["usage"]
    selector: str = Field(min_length=1, max_length=250)
    resource: Literal["memory", "cpu"] = "memory"


class CheckProbe(ProbeBase):
    """A built-in check target run as one probe (its findings as they are, its own thresholds): a symptom
    can gather `deadlocks` and `db-load` beside its own probes. Thresholds do not apply."""

    kind: Literal["check"]
    target: str = Field(pattern=NAME, description="A built-in target, e.g. deadlocks")
    options: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Its --options")


Probe = Annotated[
    PodsProbe
    | LogsProbe
    | EventsProbe
    | HttpProbe
    | TcpProbe
    | EndpointsProbe
    | DnsProbe
    | SqlProbe
    | RedisInfoProbe
    | RedisKeysProbe
    | KafkaLagProbe
    | UsageProbe
    | CheckProbe,
    Field(discriminator="kind"),
]

PROBE_KINDS: dict[str, type[ProbeBase]] = {
    "pods": PodsProbe,
    "logs": LogsProbe,
    "events": EventsProbe,
    "http": HttpProbe,
    "tcp": TcpProbe,
    "endpoints": EndpointsProbe,
    "dns": DnsProbe,
    "sql": SqlProbe,
    "redis_info": RedisInfoProbe,
    "redis_keys": RedisKeysProbe,
    "kafka_lag": KafkaLagProbe,
    "usage": UsageProbe,
    "check": CheckProbe,
}

# What a finding of each kind carries for remedies' templates (`{{probe_id.field}}`).
EVIDENCE_FIELDS: dict[str, frozenset[str]] = {
    "pods": frozenset({"count", "pod", "deployment", "namespace"}),
    "logs": frozenset({"count", "value", "pod", "deployment", "namespace"}),
    "events": frozenset({"count", "object", "reason", "namespace"}),
    "http": frozenset({"status", "ms", "url"}),
    "tcp": frozenset({"ms", "host", "port"}),
    "endpoints": frozenset({"count", "service", "namespace"}),
    "dns": frozenset({"ms", "host"}),
    "sql": frozenset({"value"}),
    "redis_info": frozenset({"value"}),
    "redis_keys": frozenset({"count", "key"}),
    "kafka_lag": frozenset({"group", "topic", "lag", "status"}),
    "usage": frozenset({"pod", "container", "ratio", "deployment", "namespace"}),
    "check": frozenset({"severity", "headline"}),
}


class Remedy(_Strict):
    """An action of the catalogue (`alp help do`), offered only when a probe in `when` is not OK.

    `params` values may name evidence as `{{probe_id.field}}`; the result is validated by the
    action's own model before a button is shown, and the action keeps its preview, authorization,
    two-person rule and audit."""

    action: str = Field(min_length=1, max_length=60)
    params: dict[str, str | int] = Field(default_factory=dict)
    when: list[str] = Field(min_length=1, description="Probe ids: offered when one of them is WARNING or worse")
    why: str = Field("", max_length=200)


class Symptom(_Strict):
    """One runbook symptom: `/alp check <name>` and `alp check <name>`."""

    name: str = Field(pattern=NAME)
    title: str = Field(min_length=1, max_length=150)
    section: str = Field(min_length=1, max_length=200, description="The runbook section it automates")
    services: list[str] = Field(default_factory=list, description="The platform services it concerns")
    probes: list[Probe] = Field(min_length=1, max_length=20)
    remedies: list[Remedy] = Field(default_factory=list, max_length=10)
    timeout_s: float | None = Field(None, gt=0, le=600, description="Default: ALP_TIMEOUTS__CHECK_S")


class Extension(_Strict):
    """Probes and remedies added to a built-in target (its own stay as they are)."""

    target: str = Field(pattern=NAME, description="A built-in check target, e.g. deadlocks")
    probes: list[Probe] = Field(default_factory=list, max_length=20)
    remedies: list[Remedy] = Field(default_factory=list, max_length=10)


class ServiceEntry(ServiceSpec):
    """A platform service added by a file (name, port, health_path, url), as in ALP_PLATFORM__SERVICES."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RunbookFile(_Strict):
    """One YAML file of `$ALP_RUNBOOK_DIR`."""

    symptoms: list[Symptom] = Field(default_factory=list, max_length=200)
    extend: list[Extension] = Field(default_factory=list, max_length=50)
    services: list[ServiceEntry] = Field(default_factory=list, max_length=100)
