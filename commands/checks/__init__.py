"""Check targets. Importing this package registers every check in `commands.registry.CHECKS`."""

from commands.checks import kafka_lag

__all__ = ["kafka_lag"]
