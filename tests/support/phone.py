"""What a 390 px wide phone shows of a Slack message, as text lines (#29, phone-first layout).

A model, measured against Slack's mobile app: about 40 characters of message text a line beside
the avatar (48 in a context block's smaller type); a section's fields in two columns; a long
section folded after its first 4 lines behind "See more"; a code block's lines not wrapped (they
scroll sideways, so what is past the 40th character is off the screen); buttons in rows; a table
block one line per row. The first screen is the first `FIRST_SCREEN` lines.
"""

from __future__ import annotations

import html
import re
import textwrap
from typing import Any

WIDTH = 40  # characters of message text in a 390 px line
CONTEXT_WIDTH = 48
FOLD = 4  # lines of a long section shown before "See more"
FIRST_SCREEN = 12  # lines of a message that fit the first screen under the channel's header

_FENCE = re.compile(r"```(.*?)```", re.S)
_MARKUP = re.compile(r"<[@#!][^>|]*\|?([^>]*)>|<(https?://[^>|]+)\|?([^>]*)>")


def _plain(mrkdwn: str) -> str:
    text = _MARKUP.sub(lambda m: m.group(1) or m.group(3) or m.group(2) or "@someone", mrkdwn)
    return html.unescape(text.replace("*", "").replace("~", ""))


def _wrap(text: str, width: int) -> list[str]:
    out: list[str] = []
    for line in text.split("\n"):
        out += textwrap.wrap(line, width) or [""]
    return out


def _section_text(text: str) -> list[str]:
    lines: list[str] = []
    last = 0
    for m in _FENCE.finditer(text):
        lines += _wrap(_plain(text[last : m.start()]).strip("\n"), WIDTH) if text[last : m.start()].strip() else []
        lines += [line[:WIDTH] for line in m.group(1).strip("\n").split("\n")]  # the rest is off the screen
        last = m.end()
    if text[last:].strip():
        lines += _wrap(_plain(text[last:]).strip("\n"), WIDTH)
    if len(lines) > FOLD + 1:
        lines = [*lines[:FOLD], "See more"]
    return lines


def block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        return _wrap(block["text"]["text"], WIDTH)
    if kind == "section":
        lines = _section_text(block["text"]["text"]) if block.get("text") else []
        fields = [_wrap(_plain(f["text"]), WIDTH // 2 - 1) for f in block.get("fields") or []]
        for left, right in zip(fields[::2], [*fields[1::2], []], strict=False):
            rows = max(len(left), len(right))
            pad_l, pad_r = left + [""] * (rows - len(left)), right + [""] * (rows - len(right))
            lines += [f"{a:<{WIDTH // 2}}{b}".rstrip() for a, b in zip(pad_l, pad_r, strict=True)]
        return lines
    if kind == "context":
        words = " ".join(_plain(e.get("text", "")) for e in block.get("elements", []))
        return _wrap(words, CONTEXT_WIDTH)[: FOLD + 1]
    if kind == "actions":
        rows, row = [], ""
        for e in block.get("elements", []):
            label = f"[{e.get('text', {}).get('text', '?')}]"
            if row and len(row) + 1 + len(label) > WIDTH:
                rows.append(row)
                row = label
            else:
                row = f"{row} {label}".strip()
        return [*rows, row] if row else rows
    if kind == "table":
        return [" | ".join(str(c.get("text", "")) for c in row)[:WIDTH] for row in block.get("rows", [])[: FOLD * 2]]
    if kind == "divider":
        return ["-" * WIDTH]
    return [f"({kind})"]


def screen(blocks: list[dict[str, Any]]) -> list[str]:
    """Every line the phone shows of the message, top to bottom (long sections folded)."""
    return [line for b in blocks for line in block_lines(b)]


def first_screen(blocks: list[dict[str, Any]]) -> list[str]:
    return screen(blocks)[:FIRST_SCREEN]


def code_widths(blocks: list[dict[str, Any]]) -> list[int]:
    """The width of every line of every code block in the message (none wider than `WIDTH` fit)."""
    texts = [b.get("text", {}).get("text", "") for b in blocks if b.get("type") == "section"]
    texts += [f["text"] for b in blocks for f in b.get("fields") or []]
    return [len(html.unescape(line)) for t in texts for m in _FENCE.finditer(t) for line in m.group(1).split("\n")]


def problems(blocks: list[dict[str, Any]], headline: str, button: bool = False) -> list[str]:
    """What a phone reader misses: the `headline` (the words naming what is wrong) or the next
    action (the first button; `button`: the message must have one) not on the first screen,
    code lines wider than the screen."""
    first = first_screen(blocks)
    seen = " ".join(" ".join(first).split())
    out = []
    if headline not in seen:
        out.append(f"headline {headline!r} not on the first screen")
    wants = button or any(b.get("type") == "actions" for b in blocks)
    if wants and not any(line.startswith("[") for line in first):
        out.append("no button on the first screen")
    wide = [w for w in code_widths(blocks) if w > WIDTH]
    if wide:
        out.append(f"{len(wide)} code line(s) wider than {WIDTH} characters (widest {max(wide)})")
    return out
