"""Settings groups the checks read. Defaults are the runbook's values.

`bot.settings.Settings` composes these with the Slack and server settings; commands only
ever receive the object, never read the environment themselves.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class ServiceSpec(BaseModel):
    """One platform service, as the runbook names it."""

    name: str = Field(description="Deployment name and `app` label, e.g. auth-service")
    port: int = Field(ge=1, le=65535, description="Service port in the cluster")
    health_path: str = Field("/health", description="HTTP path of its health endpoint")
    url: str | None = Field(
        None, description="Base URL to reach it from the bot; default http://<name>.<namespace>:<port>"
    )

    def base_url(self, namespace: str) -> str:
        return self.url or f"http://{self.name}.{namespace}:{self.port}"


INFRASTRUCTURE = ("postgres", "redis", "kafka")  # the platform's shared backends (runbook), one probe each


def _runbook_services() -> list[ServiceSpec]:
    return [
        ServiceSpec(name="auth-service", port=3001),
        ServiceSpec(name="user-service", port=3002),
        ServiceSpec(name="scheduler-service", port=3003),
        ServiceSpec(name="ml-service", port=3005),
    ]


class PlatformSettings(BaseModel):
    """Facts about the platform the bot watches."""

    services: list[ServiceSpec] = Field(default_factory=_runbook_services)
    infra_namespace: str = Field("infrastructure", description="Where postgres, redis, kafka run")
    consumer_groups: dict[str, str] = Field(
        default_factory=lambda: {"user-service": "user-service"},
        description="Kafka consumer group -> the deployment whose pods consume for it",
    )
    topics: list[str] = Field(default_factory=lambda: ["user.attempts"], description="Topics the platform relies on")

    def components(self) -> list[str]:
        """What an incident can affect: the configured services, then the shared infrastructure."""
        return [s.name for s in self.services] + list(INFRASTRUCTURE)


class KafkaLagSettings(BaseModel):
    """How consumer lag is sampled and judged (Burrow's sliding-window rules)."""

    samples: int = Field(3, ge=2, le=50, description="Samples a one-shot check takes")
    interval_s: float = Field(2.0, ge=0.0, le=60.0, description="Seconds between samples of a one-shot check")
    window: int = Field(10, ge=2, le=100, description="Commits kept per partition (Burrow: 10)")
    allowed_lag: int = Field(0, ge=0, description="Lag that still counts as caught up (exactly-once consumers: 1)")
    watch_interval_s: float = Field(
        30.0, ge=0, description="The running bot samples every group this often into the shared history (0: off)"
    )
    stall_window_s: float = Field(
        60.0, ge=0, description="How long a live group's offset must stay still, with lag, to be called STALL"
    )
    history_s: float = Field(900.0, ge=0, description="Oldest shared-history sample a check judges over (seconds)")


class TimeoutSettings(BaseModel):
    """Time limits, in seconds. A probe that exceeds its limit becomes a finding."""

    probe_s: float = Field(5.0, gt=0, le=120, description="One backend call (connect, query)")
    check_s: float = Field(45.0, gt=0, le=600, description="A whole check target")


class CheckRunSettings(BaseModel):
    """How many checks one process runs at once (commands/check_slots.py)."""

    max_running: int = Field(
        8,
        ge=1,
        le=1000,
        description="ALP_CHECKS__MAX_RUNNING: check runs at once (identical asks share one run); more wait in "
        "arrival order, each asker told its place",
    )


class LogSettings(BaseModel):
    """How much of each pod's log a check reads (`kubectl logs --tail`)."""

    tail_lines: int = Field(500, ge=10, le=10_000, description="Lines per pod")
    since_s: int = Field(3600, ge=60, description="Only lines from the last N seconds")
    samples: int = Field(3, ge=0, le=20, description="Example lines shown per finding")
    max_lines: int = Field(
        200_000, ge=100, le=1_000_000, description="`alp logs`: lines read in all (each container's tail is lowered)"
    )


class Thresholds(BaseModel):
    """Where evidence turns from fine to warning to critical. Times in milliseconds."""

    response_time_warn_ms: float = 500
    response_time_crit_ms: float = 2000
    selection_time_warn_ms: float = 200
    selection_time_crit_ms: float = 1000
    prediction_timeout_ms: float = Field(5000, description="ml-service's prediction timeout")
    long_query_s: float = Field(300, description="Active longer than this is long-running (runbook: 5 min)")
    connections_warn_ratio: float = Field(0.8, description="Connections / max_connections")
    cache_hit_warn: float = Field(0.8, description="Hit ratio below this is a warning")
    cache_hit_crit: float = Field(0.5, description="Hit ratio below this is critical")
    redis_memory_warn_ratio: float = Field(0.9, description="used_memory / maxmemory")
    fragmentation_warn: float = 1.5
    expiry_miss_ratio: float = Field(
        0.5, ge=0, description="redis: keys expired / misses in the window from which the misses are called expiries"
    )
    redis_latency_warn_ms: float = 10
    memory_limit_warn_ratio: float = Field(0.9, description="Pod memory use / limit")
    restarts_warn: int = Field(
        3, description="Container restarts that count as a problem, the last within restart_window_s"
    )
    restart_window_s: float = Field(
        3600,
        gt=0,
        description="Restarts whose last one is older than this are history (restartCount counts since creation)",
    )
    jwt_key_max_age_days: float = Field(90, description="Rotate the JWT signing key after this")
    db_cache_hit_warn: float = Field(0.9, description="blks_hit / (blks_hit + blks_read)")
    rate_window_s: float = Field(
        2.0,
        ge=0.1,
        le=60,
        description="Seconds between the two samples a rate is measured over (Redis INFO, pg_stat_*)",
    )
    redis_min_lookups: int = Field(
        50, ge=1, description="Fewer Redis lookups (hits + misses) in the window: too little traffic to judge"
    )
    auth_failure_ratio_warn: float = Field(
        0.05, ge=0, le=1, description="security: failed/suspicious/blocked lines over all auth-service lines read"
    )
    block_min_lines: int = Field(
        10,
        ge=1,
        description="security: failed lines (in all, and from one address) before a rate is judged or an address offered for blocking",
    )
    log_error_ratio_warn: float = Field(
        0.01, ge=0, le=1, description="auth: lines at ERROR or above / lines read over the log window"
    )
    log_error_ratio_crit: float = Field(0.1, ge=0, le=1, description="auth: the same share, critical")
    log_error_min_lines: int = Field(
        3, ge=1, description="auth: fewer lines at ERROR or above are at most a warning, whatever their share"
    )
    rollback_ratio_warn: float = Field(
        0.2, ge=0, le=1, description="db-load: rollbacks / (commits + rollbacks) over the window"
    )
    db_min_transactions: int = Field(
        50, ge=1, description="Fewer transactions in the window: too few to judge the rollback ratio"
    )
    temp_bytes_warn_per_s: float = Field(
        1_048_576, ge=0, description="db-load: bytes per second spilled to temp files (work_mem too small)"
    )
    db_min_block_reads: int = Field(
        1000, ge=1, description="Fewer block reads in the window: too little traffic to judge the cache hit ratio"
    )


class EndpointSettings(BaseModel):
    """External and auxiliary endpoints the checks reach."""

    oauth_url: str = Field("https://auth0.com", description="OAuth provider base URL")
    oidc_discovery_path: str = "/.well-known/openid-configuration"
    mlflow_url: str = Field("http://mlflow:5000", description="MLflow tracking server")
    postgres_service: str = Field("postgres", description="Service name of PostgreSQL in infra")
    database: str = Field("adaptive_learning", description="The platform's database")


class RedisCheckSettings(BaseModel):
    scan_pattern: str = Field("user:*", description="Default `--pattern` of the key scan")
    scan_limit: int = Field(1000, ge=1, le=100_000, description="Keys a SCAN reads at most")
    latency_samples: int = Field(20, ge=1, le=1000, description="PINGs timed for latency")


def _runbook_configmaps() -> dict[str, list[str]]:
    return {
        "auth-config": ["fallback_enabled", "cache_enabled", "cache_ttl", "oauth_endpoint"],
        "scheduler-config": ["fallback_enabled"],
        "ml-service-config": ["cache_predictions", "prediction_timeout"],
        "user-service-config": ["lock_timeout"],
        "postgres-config": ["max_connections", "shared_preload_libraries"],
    }


class ActionSettings(BaseModel):
    """Bounds and allowlists of the remediations: what a button may change, and how far."""

    dry_run: bool = Field(False, description="Every action only previews (nothing changes)")
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(20, ge=1)
    max_cpu: float = Field(8, gt=0, description="Cores, for set-resources")
    max_memory_gi: float = Field(32, gt=0, description="GiB, for set-resources")
    configmaps: dict[str, list[str]] = Field(
        default_factory=_runbook_configmaps, description="configmap -> keys set-config may change"
    )
    rollback_env: list[str] = Field(default_factory=lambda: ["ALGORITHM_VERSION", "MODEL_VERSION", "MODEL_VARIANT"])
    reindex_tables: list[str] = Field(default_factory=lambda: ["users"])
    kong_namespace: str = "kong"
    kong_configmap: str = "kong-config"
    max_partitions: int = Field(256, ge=1)
    lock_ttl_s: float = Field(300, gt=0, description="Per-target lock held while an action runs")
    run_lease_s: float = Field(
        20,
        gt=0,
        description="A running action's process vouches for it this long at a time (renewed every third); "
        "past it, whoever leads marks the run interrupted and releases its lock",
    )
    request_ttl_s: float = Field(900, gt=0, description="A button or confirmation older than this is refused")
    approval_timeout_s: float = Field(600, gt=0, description="Two-person rule: time for the second person")
    permissions: dict[str, list[str]] = Field(
        default_factory=lambda: {"safe": ["*"], "disruptive": [], "destructive": []},
        description="risk -> Slack user IDs (U…) and user-group IDs (S…) allowed; '*' is everyone",
    )
    group_cache_s: float = Field(60, ge=0, description="How long user-group membership is cached")


class PrometheusSettings(BaseModel):
    """Prometheus (HTTP API v1): graphs, and the figures checks read where it has them. Off when `url` is unset."""

    url: str | None = Field(None, description="ALP_PROMETHEUS__URL: Prometheus' base URL, e.g. http://prometheus:9090")
    bearer_token: SecretStr | None = Field(None, description="Sent as `Authorization: Bearer …`")
    username: str | None = Field(None, description="Basic auth user (with `password`)")
    password: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0, le=120, description="One API call, including Prometheus' own evaluation")
    max_series: int = Field(500, ge=1, le=100_000, description="A query answering more series is refused (narrow it)")
    max_bytes: int = Field(20_000_000, ge=10_000, description="A larger answer is refused unread")
    requests_metric: str = Field("http_requests_total", description="Request counter per service (RED: rate, errors)")
    duration_metric: str = Field(
        "http_request_duration_seconds", description="Request duration histogram per service (RED: p95)"
    )
    service_label: str = Field("service", description="The label naming the service in those metrics")
    external_urls: list[str] = Field(
        default_factory=list,
        description="This Prometheus' other names in its alerts' generatorURL (its --web.external-url, or "
        "http://<hostname>:<port> without one); an alert from any other host is from another Prometheus: not judged",
    )
    external_labels: dict[str, str] = Field(
        default_factory=dict, description="This Prometheus' own external_labels (added to its alerts, not its series)"
    )
    source_labels: list[str] = Field(
        ["cluster", "region", "datacenter", "prometheus", "prometheus_replica", "replica"],
        description="Labels naming where an alert comes from: an alert carrying one its series lacks (and not this "
        "Prometheus' own external label) is another cluster's: not matched to this Prometheus' series",
    )


class ChecksConfig(BaseModel):
    """Everything a check may read: where the targets are, and the platform's facts."""

    postgres_dsn: str = Field(
        "postgresql://postgres@postgres.infrastructure:5432/adaptive_learning",
        description="PostgreSQL DSN (ALP_POSTGRES_DSN)",
    )
    redis_url: str = Field("redis://redis.infrastructure:6379/0", description="ALP_REDIS_URL")
    kafka_bootstrap: str = Field("kafka.infrastructure:9092", description="ALP_KAFKA_BOOTSTRAP")
    namespace: str = Field("adaptive-learning-production", description="ALP_NAMESPACE")
    platform: PlatformSettings = Field(default_factory=PlatformSettings)
    kafka_lag: KafkaLagSettings = Field(default_factory=KafkaLagSettings)
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    checks: CheckRunSettings = Field(default_factory=CheckRunSettings)
    logs: LogSettings = Field(default_factory=LogSettings)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    endpoints: EndpointSettings = Field(default_factory=EndpointSettings)
    redis: RedisCheckSettings = Field(default_factory=RedisCheckSettings)
    actions: ActionSettings = Field(default_factory=ActionSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)


def service(cfg: ChecksConfig, name: str) -> ServiceSpec:
    """The configured platform service `name` (`platform.services`), else the runbook's default
    shape for it (port 80, `http://<name>.<namespace>:80`)."""
    for s in cfg.platform.services:
        if s.name == name:
            return s
    return ServiceSpec(name=name, port=80)
