"""Block Kit builders: every block, element and form alp sends to Slack is made here.

Each builder goes through slack_sdk's models (`slack_sdk.models.blocks`, `slack_sdk.models.views`),
which check Slack's limits when the JSON is made, and returns that JSON (a dict), which is what
the renderers (`bot/render_*.py`) put together and `bot/slack/client.py` posts. Text is used as
given: the renderers escape and mask before calling these.

Errors: `slack_sdk.errors.SlackObjectFormationError` (`INVALID`) for anything Slack would refuse,
e.g. a section over 3000 characters, a header over 150, a button label over 75, a field over 2000.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticMultiSelectElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

Block = dict[str, Any]
INVALID = SlackObjectFormationError


def _plain(text: str, emoji: bool | None = None) -> PlainTextObject:
    return PlainTextObject(text=text, emoji=emoji)


def mrkdwn(text: str) -> Block:
    """A mrkdwn text object (a section field, a context element)."""
    return MarkdownTextObject(text=text).to_dict()


def section(text: str | None = None, fields: Sequence[str] = ()) -> Block:
    """A section of mrkdwn `text`, or of mrkdwn `fields` (at most 10, 2000 characters each)."""
    block = SectionBlock(
        text=MarkdownTextObject(text=text) if text is not None else None,
        fields=[MarkdownTextObject(text=f) for f in fields] or None,
    )
    return block.to_dict()


def header(text: str) -> Block:
    """A plain-text header (at most 150 characters), emoji shown."""
    return HeaderBlock(text=_plain(text, emoji=True)).to_dict()


def context(*texts: str) -> Block:
    """A context block: small grey mrkdwn lines."""
    return ContextBlock(elements=[MarkdownTextObject(text=t) for t in texts]).to_dict()


def divider() -> Block:
    return DividerBlock().to_dict()


def button(text: str, action_id: str, value: str, style: str | None = None, confirm: str | None = None) -> Block:
    """A button; `confirm` (mrkdwn) asks "Are you sure?" before the click counts. The label is
    cut to Slack's 75 characters and the question to 300 (callers keep what they name short)."""
    dialog = None
    if confirm:
        dialog = ConfirmObject(
            title=_plain("Are you sure?"),
            text=MarkdownTextObject(text=confirm[:300]),
            confirm=_plain("Yes, run it"),
            deny=_plain("No"),
        )
    return ButtonElement(
        text=_plain(text[:75]), action_id=action_id, value=value, style=style, confirm=dialog
    ).to_dict()


def actions(elements: Sequence[Block], block_id: str | None = None) -> Block:
    """A row of interactive elements (buttons, checkboxes)."""
    return ActionsBlock(block_id=block_id, elements=list(elements)).to_dict()


def checkboxes(action_id: str, items: dict[str, bool]) -> Block:
    """Checkboxes, one per item (mrkdwn label = value), ticked where the item is True."""
    options = [Option(text=MarkdownTextObject(text=item), value=item) for item in items]
    ticked = [o for o, done in zip(options, items.values(), strict=True) if done]
    return CheckboxesElement(action_id=action_id, options=options, initial_options=ticked or None).to_dict()


def text_input(
    block_id: str,
    label: str,
    initial: str = "",
    multiline: bool | None = None,
    optional: bool | None = None,
    hint: str | None = None,
) -> Block:
    """A form's text field; its value arrives as `state.values[block_id].value.value`."""
    element = PlainTextInputElement(action_id="value", multiline=multiline, initial_value=initial or None)
    return InputBlock(
        block_id=block_id,
        label=_plain(label),
        element=element,
        optional=optional,
        hint=_plain(hint) if hint is not None else None,
    ).to_dict()


def select_input(
    block_id: str,
    label: str,
    choices: Sequence[tuple[str, str]],
    initial: str | None = None,
    multi: bool = False,
    optional: bool | None = None,
) -> Block:
    """A form's menu of (value, label) choices, one (`initial` preselected) or several (`multi`)."""
    options = [Option(text=_plain(text), value=value) for value, text in choices]
    element: StaticSelectElement | StaticMultiSelectElement
    if multi:
        element = StaticMultiSelectElement(action_id="value", options=options)
    else:
        first = next((o for o in options if o.value == initial), None)
        element = StaticSelectElement(action_id="value", initial_option=first, options=options)
    return InputBlock(block_id=block_id, label=_plain(label), element=element, optional=optional).to_dict()


def modal(callback_id: str, title: str, submit: str, blocks: Sequence[Block], private_metadata: str = "") -> Block:
    """A modal form (`views.open`); title at most 24 characters, 1 to 100 blocks."""
    view = View(
        type="modal",
        callback_id=callback_id,
        private_metadata=private_metadata,
        title=_plain(title),
        submit=_plain(submit),
        blocks=list(blocks),
    )
    return view.to_dict()
