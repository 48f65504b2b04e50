"""The alert group's message with hostile labels: what it shows must be what ran."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render.alert_blocks import group_message
from escalation.state.alert_groups import AlertGroup


def _context_text(labels: dict[str, str], params: dict[str, object]) -> str:
    group = AlertGroup(id=1, group_key="{}:{}", status="firing", channel="alerts", opened_at=datetime.now(UTC))
    group.alerts = {"f1": {"status": "firing", "labels": labels, "annotations": {}, "startsAt": ""}}
    group.common_labels = labels
    group.route = {"check": "kafka-lag", "params": params}
    msg = group_message(group, None, [], [], None, 10)
    return next(b["elements"][0]["text"] for b in msg.blocks if b["type"] == "context")


def test_a_label_value_cannot_pose_as_extra_check_options() -> None:
    """`{consumergroup}` = "x --samples 50" ran as group "x --samples 50"; the message must not
    read as if `--samples 50` had been passed."""
    text = _context_text({"alertname": "KafkaLag"}, {"group": "x --samples 50"})
    assert "Check: `kafka-lag --group 'x --samples 50'`" in text


def test_a_backtick_in_a_label_value_cannot_end_the_code_span() -> None:
    text = _context_text({"alertname": "KafkaLag"}, {"group": "a` *bold* `b"})
    span = text.split("Check: ", 1)[1].split(" · ", 1)[0]
    assert span.startswith("`kafka-lag --group ") and span.endswith("`") and span.count("`") == 2


def test_huge_labels_and_annotations_are_cut_visibly_never_mid_escape() -> None:
    group = AlertGroup(id=1, group_key="{}:{}", status="firing", channel="alerts", opened_at=datetime.now(UTC))
    huge = {"alertname": "Big", "pod": "<&>" * 3000}
    group.alerts = {
        f"f{i}": {"status": "firing", "labels": {**huge, "i": str(i)}, "annotations": {"summary": "s&" * 500}}
        for i in range(3)
    }
    group.common_labels = {"alertname": "Big"}
    msg = group_message(group, None, [], [], None, 10)
    section = next(b["text"]["text"] for b in msg.blocks if b["type"] == "section")
    assert len(section) <= 3000
    for line in section.split("\n"):
        tail = line[line.rfind("&") :] if "&" in line else ""
        assert tail == "" or tail.startswith(("&amp;", "&lt;", "&gt;")), tail[:10]  # no half-escaped entity
    assert "…" in section  # the cut is shown
    assert "i=2" in section or "more alert" in section  # the third alert is not silently lost


def test_a_huge_option_value_from_a_label_is_cut_visibly_in_the_check_line() -> None:
    text = _context_text({"alertname": "KafkaLag"}, {"group": "g&" * 3000})
    assert "more characters)" in text and "Notifications: 0" in text  # cut said, the rest of the line kept


def test_a_resolved_groups_message_keeps_the_report_but_no_live_remedy() -> None:
    """#29: under a green RESOLVED header the CRITICAL report kept a live "terminate-queries" button
    for a backend that no longer existed."""
    from bot.render.report_blocks import render_report
    from commands.report import Finding, Report, Severity, Suggestion

    report = Report(
        target="deadlocks",
        started_at=datetime.now(UTC),
        duration_s=0.2,
        findings=[
            Finding(
                severity=Severity.CRITICAL,
                title="2 backend(s) blocked waiting on locks; root blocker pid 812",
                suggestions=[Suggestion(action="terminate-queries", params={"pids": "812"})],
            )
        ],
    )
    rendered = render_report(report, lambda action, params, *_: "signed-value")
    group = AlertGroup(id=1, group_key="{}:{}", status="firing", channel="alerts", opened_at=datetime.now(UTC))
    group.alerts = {"f1": {"status": "firing", "labels": {"alertname": "Deadlocks"}, "annotations": {}}}
    group.route = {"check": "deadlocks", "params": {}}
    firing = group_message(group, rendered, [], [], None, 10)
    assert "alp_action_request" in str(firing.blocks)  # while it fires, the remedy is offered

    group.status = "resolved"
    group.alerts["f1"]["status"] = "resolved"
    resolved = group_message(group, rendered, [], [], None, 10)
    text = str(resolved.blocks)
    assert "root blocker pid 812" in text and "read " in text  # the report stays, with its time
    assert "alp_action_request" not in text and "Remedy buttons removed" in text
