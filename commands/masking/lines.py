"""A secret-named key on one line and its value on the next ones (log lines, pretty-printed JSON):

1. the key and its separator end a line (`… db password:`, `"password":`, `api_token =`, an XML
   element `<db.password>`) and the next non-blank line is the value alone (one word, maybe
   quoted, maybe after a logger's timestamp and level, maybe before a closing bracket);
   a line of several words after it is prose, not a value (`Enter password:` / `login ok`);
   a key alone on its line with no separator (`PASSWORD`, `db password`) takes a next line that
   is `credential_like` (so `Reset password` / `Done` stays readable);
2. a quoted value opened and not closed on the key's line: masked to its closing quote on a
   later line;
3. a list or object opened after the key (`"api_keys": [`): its lines are masked to the
   closing bracket.

(A PEM block, a YAML block or list and a Kubernetes env entry over lines: `commands.masking.redact`;
shell line continuations are joined there before the one-line shapes run.)

Bounded: only lines that end in a separator, an opening bracket or an unclosed quote are read,
the key is searched in their last `TAIL` characters, and a value runs over at most `MAX_LINES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from commands.masking.shapes import SECRET_WORD, Span, credential_like, harmless, names_a_secret

TAIL = 300
MAX_LINES = 50
_KEY_AT_END = re.compile(
    rf"(?i)(?P<name>[a-z0-9_.-]{{0,80}}(?:{SECRET_WORD})[a-z0-9_.-]{{0,80}})[\"']?[ \t]*(?:[:=]|=>)[ \t]*"
    r"(?:(?P<open>[\[{])|(?P<quote>[\"'])(?P<part>[^\"'\n]*))?[ \t]*$"
)
# an XML element named like a secret, opened at a line's end: `<db.password>` / value / `</db.password>`
_XML_OPEN_AT_END = re.compile(
    rf"(?i)<(?P<name>[a-z0-9_.:-]{{0,80}}(?:{SECRET_WORD})[a-z0-9_.:-]{{0,80}})(?:[ \t][^<>\n]{{0,200}})?>[ \t]*$"
)
# what a logger puts before each line: a timestamp, a level
_LOG_PREFIX = re.compile(
    r"[ \t]*(?:\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?[ \t]+)?"
    r"(?:\[?(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|FATAL|CRITICAL)\]?:?[ \t]+)?"
)
_LONE_VALUE = re.compile(
    r"[ \t]*(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'|(?P<val>[^\s\"',<>()\[\]{}]+))[ \t]*[,;)\]}]*[ \t]*"
)
_CLOSER = {"[": "]", "{": "}"}
# the key alone on its line, with no separator, maybe after a word or two (`PASSWORD`, `db password`)
_KEY_ALONE = re.compile(
    rf"(?i)[ \t]*(?:[a-z]{{1,20}}[ \t]+){{0,2}}(?P<name>[a-z0-9_.-]{{0,40}}(?:{SECRET_WORD})[a-z0-9_.-]{{0,40}})[ \t]*"
)
ALONE_MAX = 80
"""Characters of a line that may hold a key alone."""


def _candidate(line: str) -> bool:
    end = line.rstrip()
    return bool(end) and (end[-1] in ":=[{>" or end.count('"') % 2 == 1 or end.count("'") % 2 == 1)


def split_spans(text: str) -> Iterator[Span]:
    """Spans of values written on the lines after their secret-named key (see the module doc)."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for i, line in enumerate(lines[:-1]):
        alone = None
        if not _candidate(line) and (len(line) > ALONE_MAX or (alone := _KEY_ALONE.fullmatch(line)) is None):
            continue
        tail = max(0, len(line) - TAIL)
        m = alone or _KEY_AT_END.search(line, tail) or _XML_OPEN_AT_END.search(line, tail)
        if m is None or not names_a_secret(m["name"]):
            continue
        quote = m["quote"] if "quote" in m.re.groupindex else None
        opened = m["open"] if "open" in m.re.groupindex else None
        following = range(i + 1, min(len(lines), i + 1 + MAX_LINES))
        if quote:  # a quoted value that goes on: to its closing quote
            yield starts[i] + m.start("part"), starts[i] + m.end("part")
            for j in following:
                close = lines[j].find(quote)
                yield starts[j], starts[j] + (close if close != -1 else len(lines[j]))
                if close != -1:
                    break
        elif opened:  # a list or an object: its lines, to the closing bracket
            for j in following:
                body = lines[j].strip()
                if body.startswith(_CLOSER[opened]):
                    break
                if body:
                    at = starts[j] + lines[j].index(body)
                    yield at, at + len(body.rstrip(","))
        else:  # the value alone on the next non-blank line
            n = next((k for k in following if lines[k].strip()), None)
            if n is None:
                continue
            prefix = _LOG_PREFIX.match(lines[n])
            v = _LONE_VALUE.fullmatch(lines[n], prefix.end() if prefix else 0)
            if v is None:
                continue
            g = next(g for g in ("dq", "sq", "val") if v.group(g) is not None)
            logged = prefix is not None and prefix[0].strip() != ""
            if (logged or alone) and g == "val" and not credential_like(v[g]):
                continue  # a logger's next line of one word ("Connected") is a message, not the value
            if not v[g].endswith(":") and not harmless(v[g], m["name"]):  # `host:`: the next key
                yield starts[n] + v.start(g), starts[n] + v.end(g)
