"""A secret a few words after the word that names it, as people write it in prose: "the password
for the db is hunter2x", "the api key we use: Qk7…", "token for prod = …", "secret was set to …".

After a secret word (`commands.masking.shapes.SECRET_WORD`, or `api key`, `access key` and the
like written with a space), the next `WORDS` words are read: a connector (`is`, `was`, `are`,
`to`, `as`, `=`, `:`, or a word ending in `:` or `=`) is followed by the candidate value, which
is masked when `credential_like` (so "password for the db is required" and "token for tenant t42
is expired" stay readable) and not of a harmless shape. A word naming a property of the secret
(`count`, `expiry`, `ttl`, `file`…) or the end of a sentence stops the reading.

Linear: a bounded number of words, within `WINDOW` characters, is read after each secret word.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice

from commands.masking.shapes import HINTS, Span, credential_like, harmless, names_a_secret, secret_words

WORDS = 8
"""How many words after the secret word are read."""
KEY_MAX = 80
"""Characters of a key name either side of its secret word (as `commands.masking.shapes.NAME`)."""
WINDOW = 2048
"""Characters after a secret word in which its words are read: a word that runs past them (a line
of `password=password=…` with no space) is read only that far from each of its secret words, and
a value longer than that is masked to its end once."""

_SPACED_KEY = re.compile(
    r"(?i)\b(?:api|access|secret|private|signing|master|license|licence|integration|routing|encryption|deploy|ssh)"
    r"[ \t]+key\b"
)
_CONNECTORS = frozenset({"is", "was", "are", "were", "to", "as", "be", "becomes", "remains", "=", ":", "=>", "->"})
_WORD = re.compile(r"\S+")
_KEY_CHAR = re.compile(r"[\w.-]")
_STOP = re.compile(
    r"(?i)^(?:count|expiry|expires?|expired|ttl|lifetime|length|size|type|name|file|path|age|rotation|reset"
    r"|policy|bucket|refresh|endpoint|url|host)\W*$"
)
_PAIR = re.compile(r"[A-Za-z_][\w.-]{0,40}=")
_OPEN = "\"'([{<`"
_CLOSE = "\"'.,;)]}>`"


def _identifier(line: str, start: int, end: int) -> tuple[str, int]:
    """The whole identifier the secret word sits in (`db_password`, `token_expiry`) and where it
    ends; "" when it runs past `KEY_MAX` characters either side (a run of letters, not a key)."""
    a, b = start, end
    while a > 0 and _KEY_CHAR.match(line[a - 1]) and start - a <= KEY_MAX:
        a -= 1
    while b < len(line) and _KEY_CHAR.match(line[b]) and b - end <= KEY_MAX:
        b += 1
    return ("" if start - a > KEY_MAX or b - end > KEY_MAX else line[a:b]), b


def _value_span(m: re.Match[str]) -> Span:
    a, b = m.span()
    word = m[0]
    lead = len(word) - len(word.lstrip(_OPEN))
    trail = len(word) - len(word.rstrip(_CLOSE))
    return a + lead, b - trail


def prose_spans(line: str) -> Iterator[Span]:
    """Spans of secrets a few words after the word that names them, in one line."""
    words = list(secret_words(line))
    if " key" in line.lower():
        words += _SPACED_KEY.finditer(line)
    done = 0
    for w in words:
        if w.start() < done:
            continue  # another secret word of an identifier already read: read each once (linear)
        name, done = _identifier(line, *w.span())
        if not name or not names_a_secret(name):
            continue
        after = list(islice(_WORD.finditer(line, w.end(), w.end() + WINDOW), WORDS + 1))
        for i, t in enumerate(after[:-1]):
            token = t[0]
            if _STOP.match(token):
                break
            if token.lower() in _CONNECTORS or (len(token) > 1 and token[-1] in ":="):
                a, b = _value_span(after[i + 1])
                if b >= w.end() + WINDOW - len(_CLOSE):  # a value longer than the window: to its end
                    rest = _WORD.match(line, after[i + 1].end())
                    b = rest.end() if rest else b
                    done = max(done, b)  # read once: later secret words inside it are skipped
                value = line[a:b]
                if _PAIR.match(value):
                    break  # `DSN: host=db port=5432 …`: pairs, each read by its own key's finder
                if b > a and credential_like(value) and not harmless(value, name):
                    yield a, b
                    break
            if token[-1] in ".;" and token.lower() not in _CONNECTORS:
                break  # the sentence ends


PROSE_FINDERS = (((*HINTS, "key"), prose_spans),)
"""The finder with the lower-case words one of which a line must contain for it to be tried."""
