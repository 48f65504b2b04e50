"""The one escaping function for Slack text, and the fenced/inline code built on it.

Slack's rule (api.slack.com "Formatting text for app surfaces"): in any `mrkdwn` text, and in a
message's top-level `text`, escape `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;` unless they are
the app's own markup. Unescaped, `<!channel>`, `<@U123>`, `<!subteam^S1>` or `<http://x|y>` from
a log line or a user's words would become a live mention or a disguised link.

Slack has no escape for its formatting characters (`*bold*`, `_italic_`, `~strike~`, a `>`
quote at a line's start, `:emoji:` codes): in foreign text outside code, each is kept and
wrapped in zero-width spaces (or, for a quote and an emoji code, split by one), so that it can
neither open nor close a format whichever way Slack classes the zero-width space, and the text
reads as it was. An underscore between two letters or digits (`snake_case`) cannot format and is
left as it is, so identifiers stay copyable. Single backticks are left live: the bot's usage
text, escaped here as a whole, uses them, and inline code shows its content literally anyway.
Inside code (`code`, `inline`) nothing formats, and only `&<>` and backtick runs are escaped.

Foreign text (read from the inspected systems or typed by a user) is masked first
(`commands.masking.redact.redact`) and then escaped; `plain_text` objects (headers, buttons, form
inputs) are not parsed by Slack and are only masked.
"""

from __future__ import annotations

import re

from commands.masking.redact import redact
from commands.report import one_line

ZWSP = "\u200b"  # zero width space: breaks a run of backticks without changing how it reads
_BACKTICKS = re.compile(r"`{2,}")


def _entities(text: object) -> str:
    """`&`, `<`, `>` escaped and every run of two or more backticks broken by a zero-width space,
    so that foreign text cannot open or close a code block (```) of the bot's own around it."""
    out = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BACKTICKS.sub(_break, out) if "``" in out else out


# a formatting character that could open or close a format: `*` and `~` always, `_` unless
# between two letters or digits (Slack does not format inside a word)
_MARKUP = re.compile(r"[*~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# a quote marker at a line's start: after a line feed, a carriage return, NEL or a Unicode line or
# paragraph separator (each starts a line where Slack renders), past any spaces (NBSP, em space…)
_QUOTE = re.compile(r"(?:^|(?<=[\n\r\x0b\x0c\x85\u2028\u2029]))([^\S\n\r\x0b\x0c\x85\u2028\u2029]*)&gt;")
# an emoji code standing alone (`progress:user:42`, a Redis key, is left copyable)
_EMOJI = re.compile(r"(?<![\w:]):(?=[a-z0-9_+'-]{0,80}[a-z])([a-z0-9_+'-]{1,80}):(?![\w:])")


def escape(text: object) -> str:
    """`text` safe inside Slack mrkdwn, outside code: `&<>` escaped and backtick runs broken
    (`_entities`), and every formatting character made inert (see the module doc)."""
    out = _entities(text)
    if any(c in out for c in "*_~"):
        out = _MARKUP.sub(lambda m: ZWSP + m[0] + ZWSP, out)
    if "&gt;" in out:
        out = _QUOTE.sub(lambda m: m[1] + ZWSP + "&gt;", out)
    if ":" in out:
        out = _EMOJI.sub(lambda m: ":" + ZWSP + m[1] + ":", out)
    return out


def _break(m: re.Match[str]) -> str:
    return ZWSP.join(m[0])


def clean(text: object) -> str:
    """Foreign text for Slack mrkdwn: secrets masked, then escaped."""
    return escape(redact(str(text)))


def clean_line(text: object) -> str:
    """`clean` for one line of the bot's own (a timeline event, an incident's line): secrets
    masked first (a secret may span lines), then line breaks shown as `\\n` (`one_line`)."""
    return escape(one_line(redact(str(text))))


def code(text: str, masked: bool = False) -> str:
    """A fenced code block of foreign text that nothing inside can close: secrets masked (unless
    `masked` says they already are), `&<>` escaped, and every run of backticks (and one at
    either edge) broken by a zero-width space."""
    body = _entities(text if masked else redact(text))
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
    return "`" + code_text(text).replace("`", "'") + "`"


def code_text(text: object) -> str:
    """Foreign text inside the bot's own code span or block: masked, `&<>` escaped, backtick runs
    broken; formatting characters left as they are (nothing formats inside code)."""
    return _entities(redact(str(text)))


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
