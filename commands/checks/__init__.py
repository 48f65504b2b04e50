"""Check targets. Importing this package registers every check in `commands.registry.CHECKS`
(readers take the registries from `commands.catalogue`, which loads this package and the others),
in the order `/alp help` lists them, and the report hooks every check's report goes through
(`commands.registry.REPORT_HOOKS`: commands/changes/, recent changes on a critical report)."""

import commands.changes  # noqa: F401  (its report hook)
from commands.checks import (
    auth,
    db,
    health,
    kafka_lag,
    network,
    oncall,
    performance,
    redis_cache,
    security,
    services,
)
from commands.registry import CHECKS

CHECKS.order(
    [
        "health",
        "auth",
        "auth-latency",
        "progress",
        "deadlocks",
        "scheduler",
        "algorithm",
        "ml",
        "predictions",
        "db-load",
        "db-connectivity",
        "redis",
        "kafka-lag",
        "network",
        "external",
        "latency",
        "memory",
        "security",
    ]
)

__all__ = [
    "auth",
    "db",
    "health",
    "kafka_lag",
    "network",
    "oncall",
    "performance",
    "redis_cache",
    "security",
    "services",
]
