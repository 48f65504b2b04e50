"""The one escaping function for Slack text, and the fenced/inline code built on it.

Slack's rule (api.slack.com "Formatting text for app surfaces"): in any `mrkdwn` text, and in a
message's top-level `text`, escape `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;` unless they are
the app's own markup. Unescaped, `<!channel>`, `<@U123>`, `<!subteam^S1>` or `<http://x|y>` from
a log line or a user's words would become a live mention or a disguised link.

Foreign text (read from the inspected systems or typed by a user) is masked first
(`commands.redact.redact`) and then escaped; `plain_text` objects (headers, buttons, form
inputs) are not parsed by Slack and are only masked.
"""

from __future__ import annotations

import re

from commands.redact import redact

ZWSP = "\u200b"  # zero width space: breaks a run of backticks without changing how it reads
_BACKTICKS = re.compile(r"`{2,}")


def escape(text: object) -> str:
    """`text` safe inside Slack mrkdwn: `&`, `<`, `>` escaped (nothing else changes)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clean(text: object) -> str:
    """Foreign text for Slack mrkdwn: secrets masked, then escaped."""
    return escape(redact(str(text)))


def code(text: str, masked: bool = False) -> str:
    """A fenced code block of foreign text that nothing inside can close: secrets masked (unless
    `masked` says they already are), `&<>` escaped, and every run of backticks (and one at
    either edge) broken by a zero-width space."""
    body = _BACKTICKS.sub(lambda m: ZWSP.join(m[0]), escape(text) if masked else clean(text))
    if body.startswith("`"):
        body = ZWSP + body
    if body.endswith("`"):
        body += ZWSP
    return f"```{body}```"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal(text: str, masked: bool = False) -> str:
    """Foreign text for a terminal: secrets masked, control characters (ANSI escapes that could
    clear the screen or rewrite a line) shown as `\\x1b`; newlines and tabs stay."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text if masked else redact(text))


def inline(text: object) -> str:
    """Inline code of foreign text: a backtick inside would close it, so it becomes a quote (')."""
    return "`" + clean(text).replace("`", "'") + "`"


# The bot's own markup in text it composes from configuration and Slack IDs: user, user-group
# and channel mentions (`<@U123>`, `<!subteam^S123|name>`, `<#C123>`).
_OWN_MENTION = re.compile(r"<(?:@[UW][A-Z0-9]{2,20}|!subteam\^S[A-Z0-9]{2,20}(?:\|[\w .-]{1,80})?|#C[A-Z0-9]{2,20})>")


def keep_mentions(text: str) -> str:
    """Mask and escape `text` except for user, user-group and channel mentions, for lines that
    mix the bot's mentions with foreign words (an error text): `<!channel>`, `<!here>` and links
    are shown as text."""
    out: list[str] = []
    last = 0
    for m in _OWN_MENTION.finditer(text):
        out += [clean(text[last : m.start()]), m[0]]
        last = m.end()
    out.append(clean(text[last:]))
    return "".join(out)
