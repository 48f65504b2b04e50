"""Prometheus metrics for `GET /metrics`, one registry per bot (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


class Metrics:
    """Commands handled, how long checks took, and what they concluded."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "alp_commands_total",
            "Slash commands handled, by verb and outcome (ok, usage, error)",
            ["verb", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "alp_check_duration_seconds",
            "Time from ack to final answer of a check, by target",
            ["target"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
            registry=self.registry,
        )
        self.outcomes = Counter(
            "alp_check_outcomes_total",
            "Check reports by target and overall severity",
            ["target", "severity"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
