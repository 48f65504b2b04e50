"""Confirmation, approval and outcome messages of remediations, as Block Kit."""

from __future__ import annotations

from typing import Any

from bot.render.blocks import Block, actions, button, context, modal, section, text_input
from bot.render.escape import clean, inline
from commands.actions.registry import ActionSpec, Outcome, Risk
from commands.actions.request import label as label  # one home: the audit and the flow use it too
from commands.masking.redact import redact

RISK_EMOJI = {
    Risk.SAFE: ":large_green_circle:",
    Risk.DISRUPTIVE: ":large_orange_circle:",
    Risk.DESTRUCTIVE: ":red_circle:",
}


PREVIEW_CHARS = 2800  # of a 3000-character section, room for the fence and the "N more" line
LABEL_CHARS = 600


def _short(text: str, limit: int = LABEL_CHARS) -> str:
    """A one-line label that says it was shortened (the preview and its file name everything)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def _line(text: str) -> str:
    """A preview line as a phone shows it: a bullet of masked, escaped text that wraps (a code
    block's lines would run off a 390 px screen)."""
    return f"• {clean(text)}"


def fit_lines(lines: list[str], limit: int = PREVIEW_CHARS) -> tuple[list[str], int]:
    """The leading lines whose bullets fit `limit` characters, and how many are left out."""
    shown: list[str] = []
    size = 0
    for line in lines:
        size += len(_line(line)) + 1  # escaped and masked as it will be shown, plus the newline
        if size > limit:
            break
        shown.append(line)
    return shown, len(lines) - len(shown)


def preview_attachment(lines: list[str]) -> str | None:
    """The full preview as text (masked) when the message cannot show all of it, else None."""
    return redact("\n".join(lines)) if fit_lines(lines)[1] else None


def _preview_section(lines: list[str]) -> Block:
    shown, more = fit_lines(lines)
    text = "\n".join(_line(line) for line in shown) if shown else "(no preview)"
    if more:
        text += f"\n… and {more} more line{'s' if more > 1 else ''}: the full list is attached as a file in the thread."
    return section(text)


def confirmation(
    spec: ActionSpec, req: dict[str, Any], who_may: str, confirm_token: str, cancel_token: str, dry_run: bool
) -> tuple[str, list[Block]]:
    what = _short(label(spec.name, req["params"]))
    head = (
        f"{RISK_EMOJI[spec.risk]} <@{req['requester']}> asks to run {inline(what)} "
        f"(risk: *{spec.risk.value}*){' — *dry-run mode*: nothing will change' if dry_run else ''}"
    )
    nobody = who_may.startswith("nobody")  # no Confirm button nobody may press
    note = (
        f"No Confirm button: nobody is permitted to confirm a {spec.risk.value} action."
        if nobody
        else "Two people must agree: after Confirm, another authorized person approves."
        if spec.risk is Risk.DESTRUCTIVE
        else "Confirm to run it."
    )
    confirm_button = button(
        "Confirm",
        "alp_action_confirm",
        confirm_token,
        "danger" if spec.risk is Risk.DESTRUCTIVE else "primary",
        confirm=f"{inline(_short(what, 200))} changes production." if spec.risk is not Risk.SAFE else None,
    )
    return f"Confirm: {clean(what)}", [  # phone-first: what, then the buttons, then the preview
        section(head),
        actions(
            [*([] if nobody else [confirm_button]), button("Cancel", "alp_action_cancel", cancel_token)],
            f"action_request_{req['id']}",
        ),
        _preview_section(req["preview"]["lines"]),
        context(f"{note} Who may confirm: {who_may}. Request #{req['id']}, expires {req['expires_at']:%H:%M}Z."),
    ]


def awaiting_approval(
    spec: ActionSpec, req: dict[str, Any], who_may: str, approve_token: str, cancel_token: str
) -> tuple[str, list[Block]]:
    what = _short(label(spec.name, req["params"]))
    approve = button(
        "Approve", "alp_action_approve", approve_token, "danger", confirm=f"Approve {inline(_short(what, 200))}?"
    )
    return f"Approval needed: {clean(what)}", [
        section(
            f"{RISK_EMOJI[spec.risk]} {inline(what)} was confirmed by <@{req['confirmed_by']}> and needs a *second* "
            f"authorized person to approve before {req['approval_deadline']:%H:%M:%S}Z."
        ),
        actions(
            [
                *([] if who_may.startswith("nobody") else [approve]),  # no Approve button nobody may press
                button("Cancel", "alp_action_cancel", cancel_token),
            ],
            f"action_approve_{req['id']}",
        ),
        _preview_section(req["preview"]["lines"]),
        context(f"Who may approve: {who_may} (not <@{req['confirmed_by']}>)."),
    ]


def closed(spec: ActionSpec, req: dict[str, Any], text: str) -> tuple[str, list[Block]]:
    """The message once the request is over: no more buttons, just what happened."""
    what = _short(label(spec.name, req["params"]))
    return text, [
        section(f"{RISK_EMOJI[spec.risk]} {inline(what)}"),
        _preview_section(req["preview"]["lines"]),
        context(text),
    ]


def outcome_blocks(
    spec: ActionSpec, req: dict[str, Any], outcome: Outcome, who: str, undo_token: str | None
) -> tuple[str, list[Block]]:
    emoji = ":white_check_mark:" if outcome.ok else ":x:"
    text = f"{emoji} {clean(outcome.summary)} — by {who}"
    _, blocks = closed(spec, req, text)
    changes = outcome_changes(outcome)
    if changes:
        blocks.insert(2, _preview_section(changes))
    if undo_token:
        blocks.append(actions([button("Undo", "alp_action_undo", undo_token)], f"action_undo_{req['id']}"))
    return text, blocks


def outcome_changes(outcome: Outcome) -> list[str]:
    """What an outcome changed, one line each: `key: before -> after`, then its details."""
    return [
        f"{k}: {outcome.before.get(k)!r} -> {v!r}" for k, v in outcome.after.items() if k in outcome.before
    ] + outcome.details


def params_modal(spec: ActionSpec, known: dict[str, Any], metadata: str) -> Block:
    """A form for the parameters a button could not know (e.g. how many replicas)."""
    blocks = [
        text_input(name, name.replace("_", " "), hint=(info.description or name)[:150])
        for name, info in spec.params.model_fields.items()
        if name not in known and name != "values" and info.is_required()
    ]
    return modal("alp_action_modal", spec.name[:24], "Preview", blocks, metadata)
