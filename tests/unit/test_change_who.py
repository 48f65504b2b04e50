"""Who made a change, as a change's line says it (#29 item 11: "(by asked by …)", "(by carol (terminal))")."""

from __future__ import annotations

from datetime import UTC, datetime

from commands.changes.sources import Change


def line(by: str) -> str:
    change = Change(kind="remediation", object="deployment/user-service", at=datetime.now(UTC), summary="s", by=by)
    return change.summary + change.who()


def test_who_reads_once_after_the_summary():
    assert line("asked by U0ALICE, confirmed by U0BOB") == "s (asked by U0ALICE, confirmed by U0BOB)"
    assert line("carol (terminal)") == "s (by carol, in the terminal)"
    assert line("alp restart, erin (terminal)") == "s (alp restart, erin, in the terminal)"
    assert line("kubectl-edit") == "s (by kubectl-edit)"
    assert line("") == "s"


def test_an_action_that_names_no_object_is_named_once():
    """#29 item 11: "alp silence silence: …"."""
    from commands.changes.audit import audit_changes

    at = datetime.now(UTC)
    rows = [
        {"at": at, "actor": "dan", "event": "outcome", "action": "silence", "params": {}, "result": "done: 2h"},
        {
            "at": at,
            "actor": "dan",
            "event": "outcome",
            "action": "restart",
            "params": {"deployment": "user-service"},
            "result": "done: restarted",
        },
    ]
    silence, restart = audit_changes(rows, {}, at.replace(year=at.year - 1))
    assert silence.summary.startswith("alp silence: ") and "silence silence" not in silence.summary
    assert restart.summary.startswith("alp restart user-service: ")


def test_a_silence_clicked_in_slack_is_not_said_to_come_from_the_terminal():
    """#29 item 11: "(by U0ONCALL (terminal))" for a Slack click."""
    from commands.changes.audit import audit_changes

    at = datetime.now(UTC)
    params = {"matchers": {"alertname": "X"}, "hours": 2}
    rows = [
        {
            "at": at,
            "actor": "U0ONCALL",
            "event": "requested",
            "action": "silence",
            "params": params,
            "result": "alp: INC-3 (P2) x",
        },
        {
            "at": at,
            "actor": "U0ONCALL",
            "event": "outcome",
            "action": "silence",
            "params": params,
            "result": "done: silence s1 for 2h",
        },
    ]
    [silence] = audit_changes(rows, {}, at.replace(year=at.year - 1))
    assert silence.by == "asked by U0ONCALL" and silence.who() == " (asked by U0ONCALL)"
