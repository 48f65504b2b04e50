"""The demo page: alp's messages as a phone shows them, from the Block Kit the bot really sent.

`python -m scripts.world.page CALLS.jsonl [OUT.html]` reads the Web API calls a demo run recorded
(`scripts/run bot --demo` writes them: one JSON object a line, {method, args, ts}) and writes one
static HTML page: every channel's top-level messages as last posted or updated, their thread
replies under them, 390 px wide. Block Kit is drawn as Slack draws it, roughly: header, section
text and two-column fields, context in small type, buttons, the table block, dividers; Slack's
mrkdwn (*bold*, _italic_, ~strike~, `code`, ```blocks```, <@U…> mentions, <url|links>) as HTML.
Every text is HTML-escaped before any markup is added: what a finding quotes stays text.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path
from typing import Any

WIDTH_PX = 390

CSS = f"""
body {{ margin: 0; background: #f4f4f4; font: 15px/1.4 -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d1c1d; }}
main {{ width: {WIDTH_PX}px; margin: 0 auto; background: #fff; }}
h1 {{ font-size: 17px; margin: 0; padding: 12px; border-bottom: 1px solid #ddd; }}
.msg {{ padding: 10px 12px; border-bottom: 1px solid #eee; overflow-wrap: anywhere; }}
.thread {{ margin: 6px 0 0 12px; padding-left: 8px; border-left: 3px solid #ddd; }}
.who {{ font-weight: 700; font-size: 14px; }}
.header {{ font-size: 17px; font-weight: 800; margin: 4px 0; }}
.context {{ font-size: 12px; color: #616061; margin: 4px 0; }}
.fields {{ display: grid; grid-template-columns: 1fr 1fr; gap: 6px; margin: 4px 0; }}
pre {{ background: #f8f8f8; border: 1px solid #e0e0e0; padding: 6px; font-size: 12px; overflow-x: auto; }}
code {{ background: #f3f3f3; color: #c01343; padding: 0 2px; font-size: 13px; }}
.mention {{ background: #e8f5fa; color: #1264a3; }}
button {{ margin: 4px 6px 0 0; padding: 4px 10px; border: 1px solid #bbb; border-radius: 4px; background: #fff; font-weight: 700; }}
button.primary {{ background: #007a5a; color: #fff; border-color: #007a5a; }}
button.danger {{ background: #e01e5a; color: #fff; border-color: #e01e5a; }}
table {{ border-collapse: collapse; font-size: 12px; display: block; overflow-x: auto; margin: 4px 0; }}
td {{ border: 1px solid #ddd; padding: 2px 4px; white-space: nowrap; }}
tr:first-child td {{ font-weight: 700; }}
hr {{ border: 0; border-top: 1px solid #ddd; }}
"""

_SPAN = re.compile(r"`([^`\n]+)`")
_LINK = re.compile(r"&lt;(https?://[^|&]+?)(?:\|(.*?))?&gt;")
_MENTION = re.compile(r"&lt;([@#!])([^|&]+?)(?:\|(.*?))?&gt;")


def mrkdwn(text: str) -> str:
    """Slack mrkdwn (as the bot sent it: `&amp;`, `&lt;`, `&gt;` escaped) as HTML."""
    out: list[str] = []
    parts = re.split(r"```(.*?)```", html.unescape(text), flags=re.S)
    for i, part in enumerate(parts):
        safe = html.escape(part)
        if i % 2:
            out.append(f"<pre>{safe.strip(chr(10))}</pre>")
            continue
        safe = _SPAN.sub(r"<code>\1</code>", safe)
        safe = _LINK.sub(lambda m: f'<a href="{m[1]}">{m[2] or m[1]}</a>', safe)
        safe = _MENTION.sub(lambda m: f'<span class="mention">{m[1]}{m[3] or m[2]}</span>', safe)
        safe = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", safe)
        safe = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", safe)
        safe = re.sub(r"(?<![\w~])~([^~\n]+)~(?![\w~])", r"<s>\1</s>", safe)
        out.append(safe.replace("\n", "<br>"))
    return "".join(out)


def _text(obj: dict[str, Any] | None) -> str:
    if not obj:
        return ""
    raw = str(obj.get("text", ""))
    return mrkdwn(raw) if obj.get("type") == "mrkdwn" else html.escape(raw)


def block_html(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        return f'<div class="header">{_text(block.get("text"))}</div>'
    if kind == "section":
        body = f"<div>{_text(block.get('text'))}</div>" if block.get("text") else ""
        if block.get("fields"):
            body += '<div class="fields">' + "".join(f"<div>{_text(f)}</div>" for f in block["fields"]) + "</div>"
        return body
    if kind == "context":
        return '<div class="context">' + " ".join(_text(e) for e in block.get("elements", [])) + "</div>"
    if kind == "actions":
        buttons = []
        for e in block.get("elements", []):
            label = html.escape(str((e.get("text") or {}).get("text", e.get("type", ""))))
            style = html.escape(str(e.get("style", "")))
            action = html.escape(str(e.get("action_id", "")))
            buttons.append(f'<button class="{style}" data-action="{action}">{label}</button>')
        return "<div>" + "".join(buttons) + "</div>"
    if kind == "table":
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(c.get('text', '')))}</td>" for c in row) + "</tr>"
            for row in block.get("rows", [])
        )
        return f"<table>{rows}</table>"
    if kind == "divider":
        return "<hr>"
    return f'<div class="context">({html.escape(str(kind))} block)</div>'


def message_html(args: dict[str, Any]) -> str:
    blocks = args.get("blocks")
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    inner = "".join(block_html(b) for b in blocks or []) or f"<div>{mrkdwn(str(args.get('text', '')))}</div>"
    return f'<div class="who">alp <span class="context">APP</span></div>{inner}'


def shown(calls: list[dict[str, Any]]) -> dict[str, list[tuple[str, dict[str, Any], list[dict[str, Any]]]]]:
    """Per channel, its top-level messages in order, each as last updated, with its thread replies."""
    latest: dict[str, dict[str, Any]] = {}
    for c in calls:
        if c.get("method") == "chat.update" and c["args"].get("ts"):
            latest[str(c["args"]["ts"])] = c["args"]
    channels: dict[str, list[tuple[str, dict[str, Any], list[dict[str, Any]]]]] = {}
    threads: dict[str, list[dict[str, Any]]] = {}
    for c in calls:
        if c.get("method") != "chat.postMessage" or not c.get("ts"):
            continue
        args, ts = c["args"], str(c["ts"])
        parent = args.get("thread_ts")
        if parent:
            threads.setdefault(str(parent), []).append(latest.get(ts, args))
        else:
            channels.setdefault(str(args.get("channel", "?")), []).append((ts, latest.get(ts, args), []))
    for messages in channels.values():
        for ts, _, replies in messages:
            replies += threads.pop(ts, [])
    for parent, replies in threads.items():  # a thread whose parent is not in the record: shown on its own
        for args in replies:
            channels.setdefault(str(args.get("channel", "?")), []).append((parent, args, []))
    return channels


def render(calls: list[dict[str, Any]], title: str = "alp in Slack, as a 390 px phone shows it") -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"]
    parts.append(f"<meta name='viewport' content='width={WIDTH_PX}'><style>{CSS}</style></head><body><main>")
    for channel, messages in shown(calls).items():
        parts.append(f"<h1>#{html.escape(channel)}</h1>")
        for _, args, replies in messages:
            thread = "".join(f'<div class="thread">{message_html(r)}</div>' for r in replies)
            parts.append(f'<div class="msg">{message_html(args)}{thread}</div>')
    parts.append("</main></body></html>")
    return "".join(parts)


def write(calls_path: Path, out: Path) -> Path:
    calls = [json.loads(line) for line in calls_path.read_text().splitlines() if line.strip()]
    out.write_text(render(calls))
    return out


def main() -> None:
    calls = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) > 2 else calls.with_name("slack.html")
    print(write(calls, out))


if __name__ == "__main__":
    main()
