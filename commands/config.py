"""Settings groups the checks read. Defaults are the runbook's values.

`bot.settings.Settings` composes these with the Slack and server settings; commands only
ever receive the object, never read the environment themselves.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


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
    topics: list[str] = Field(
        default_factory=lambda: ["user.attempts"], description="Topics the platform relies on"
    )


class KafkaLagSettings(BaseModel):
    """How consumer lag is sampled and judged (Burrow's sliding-window rules)."""

    samples: int = Field(3, ge=2, le=50, description="Samples a one-shot check takes")
    interval_s: float = Field(
        2.0, ge=0.0, le=60.0, description="Seconds between samples of a one-shot check"
    )
    window: int = Field(10, ge=2, le=100, description="Commits kept per partition (Burrow: 10)")
    allowed_lag: int = Field(
        0, ge=0, description="Lag that still counts as caught up (exactly-once consumers: 1)"
    )


class TimeoutSettings(BaseModel):
    """Time limits, in seconds. A probe that exceeds its limit becomes a finding."""

    probe_s: float = Field(5.0, gt=0, le=120, description="One backend call (connect, query)")
    check_s: float = Field(45.0, gt=0, le=600, description="A whole check target")


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
