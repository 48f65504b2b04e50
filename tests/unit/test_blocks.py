"""Slack blocks come from one set of builders on slack_sdk's models (bot/render/blocks.py): what the
renderers return is what the models make, and the models refuse what Slack would refuse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View

import commands.checks  # noqa: F401  (registers the check targets)
from bot.render import blocks
from bot.render.action_blocks import awaiting_approval, confirmation, outcome_blocks, params_modal
from bot.render.incident_blocks import checklist_blocks, incident_blocks, note_modal, open_modal, page_blocks
from bot.render.report_blocks import MAX_SECTION, render_report
from commands.actions import ACTIONS
from commands.actions.registry import Outcome
from commands.report import Fields, Finding, Report, Severity, Suggestion
from escalation.ladder.pages import Page
from escalation.model import Incident, IncidentStatus, Priority, Rung

NOW = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def same_through_the_models(rendered: list[dict[str, object]]) -> None:
    for block in rendered:
        model = SdkBlock.parse(block)  # type: ignore[arg-type]
        assert model is not None
        assert model.to_dict() == block  # to_dict validates: raises on anything Slack would refuse


def incident(status: IncidentStatus) -> Incident:
    ladder = [Rung("primary", "@oncall", "slack", 0, ("U1",)), Rung("manager", "@boss", "pager", 900)]
    return Incident(
        7, Priority.P0, "checkout <down> & *slow*", "", ["auth-service"], status, "C1", "U0", NOW, ladder,
        acked_by="U2", resolved_by="U3", checklist={"Clear any alerts": True, "Watch the error rate": False},
    )  # fmt: skip


@pytest.mark.parametrize("status", list(IncidentStatus))
def test_incident_messages_are_valid_block_kit(status):
    inc = incident(status)
    same_through_the_models(incident_blocks(inc, NOW)[1])
    same_through_the_models(checklist_blocks(inc)[1])
    page = Page("INC-7", "primary", "@oncall", "checkout down", "", ["03:04 opened"], [], "triggered", ["x" * 2500])
    same_through_the_models(page_blocks(page)[1])


def test_forms_are_valid_views():
    for form in (open_modal("summary", "impact", "C1", services=["auth-service", "postgres"]), note_modal(7)):
        assert View(**{k: v for k, v in form.items()}).to_dict() == form  # type: ignore[arg-type]
    spec = ACTIONS.get("scale")
    assert spec is not None
    form = params_modal(spec, {"deployment": "user-service"}, "meta")
    assert [b["block_id"] for b in form["blocks"]] == ["replicas"]
    assert View(**form).to_dict() == form  # type: ignore[arg-type]


def test_remediation_messages_are_valid_block_kit():
    req = {
        "id": 3, "requester": "U1", "params": {"deployment": "user-service", "replicas": 4},
        "preview": {"lines": [f"pod user-service-{i} <&>" for i in range(300)]},
        "expires_at": NOW, "confirmed_by": "U2", "approval_deadline": NOW,
    }  # fmt: skip
    for spec in ACTIONS:
        same_through_the_models(confirmation(spec, req, "<@U1>", "tok", "no", False)[1])
        same_through_the_models(awaiting_approval(spec, req, "<@U1>", "tok", "no")[1])
        outcome = Outcome(True, "scaled", {"replicas": 2}, {"replicas": 4}, undo=("scale", {"replicas": 2}))
        same_through_the_models(outcome_blocks(spec, req, outcome, "<@U1>", "undo")[1])


def test_a_report_is_valid_block_kit_and_one_too_big_for_a_section_becomes_summary_and_file():
    critical = Finding(
        severity=Severity.CRITICAL,
        title="pods <crash> looping",
        evidence=[Fields(items={f"pod-{i}": "CrashLoopBackOff" for i in range(13)})],
        suggestions=[Suggestion(action="restart", params={"deployment": "user-service"})],
    )
    report = Report(target="health", started_at=NOW, duration_s=1.0, findings=[critical])
    message = render_report(report, lambda action, params, evidence: f"signed:{action}")
    same_through_the_models(message.blocks)
    assert message.attachment is None
    assert [b["type"] for b in message.blocks].count("actions") == 2  # the restart button, Open incident
    huge = critical.model_copy(update={"detail": "& " * MAX_SECTION})  # escaped: over 3000 characters
    message = render_report(Report(target="health", started_at=NOW, duration_s=1.0, findings=[huge]))
    same_through_the_models(message.blocks)
    assert message.attachment is not None and "pods <crash> looping" in message.attachment


def test_the_builders_refuse_what_slack_refuses():
    with pytest.raises(blocks.INVALID):
        blocks.section("x" * 3001)
    with pytest.raises(blocks.INVALID):
        blocks.header("x" * 151)
    with pytest.raises(blocks.INVALID):
        blocks.section(fields=["x"] * 11)
    assert blocks.button("y" * 100, "a", "v")["text"]["text"] == "y" * 75  # a label is cut to Slack's 75
