"""Prometheus metrics for `GET /metrics`, one registry per bot (tests run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from commands.check_slots import SLOTS


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
        self.renderings = Counter(
            "alp_report_renderings_total",
            "Reports rendered for Slack, by target: identical checks asked at once share one",
            ["target"],
            registry=self.registry,
        )
        Gauge("alp_checks_running", "Check runs going now", registry=self.registry).set_function(lambda: SLOTS.running)
        Gauge(
            "alp_checks_queued", "Check runs waiting for a slot (ALP_CHECKS__MAX_RUNNING)", registry=self.registry
        ).set_function(lambda: SLOTS.queued)
        Gauge(
            "alp_checks_running_most", "The most check runs that went at once since the start", registry=self.registry
        ).set_function(lambda: SLOTS.most)

        self.pages = Counter(
            "alp_pages_total",
            "Escalation pages by ladder step and result (sent, failed)",
            ["step", "result"],
            registry=self.registry,
        )
        self.page_lateness = Histogram(
            "alp_page_lateness_seconds",
            "Seconds between an escalation step's due time and its timer firing",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.actions = Counter(
            "alp_actions_total",
            "Remediation requests by action and event (requested, refused, done, failed, ...)",
            ["action", "event"],
            registry=self.registry,
        )

    def escalation_event(self, kind: str, data: dict[str, object]) -> None:
        """Hook for the escalation engine: pages and timer lateness."""
        if kind == "page":
            self.pages.labels(step=str(data["step"]), result=str(data["result"])).inc()
        elif kind == "fired":
            self.page_lateness.observe(float(data["lateness_s"]))  # type: ignore[arg-type]

    def render(self) -> bytes:
        return generate_latest(self.registry)


class AlertMetrics:
    """The alert intake's (bot/alerts/intake.py): notifications, routed checks, alert-to-findings latency."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "alp_alert_notifications_total", "Alertmanager notifications by status", ["status"], registry=registry
        )
        self.checks = Counter(
            "alp_alert_checks_total",
            "Routed checks by target: ran, or shared an identical run",
            ["target", "run"],
            registry=registry,
        )
        self.latency = Histogram(
            "alp_alert_to_findings_seconds",
            "From a notification's arrival to the group's message with the check's findings",
            buckets=(0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120),
            registry=registry,
        )
