"""The one place secrets are masked before text leaves the bot: Slack, terminal, JSON, logs, audit.

Secrets are recognised by kind, not by one spelling:

1. known token formats (`commands.masking.rules`): the gitleaks rule set of a few hundred formats,
   run with RE2, and detect-secrets' detectors; JWTs and PEM private keys, also split across lines,
   and PuTTY key files' `Private-Lines` blocks;
2. where a secret sits whatever its format (`commands.masking.shapes`): values of secret-named keys
   in every notation, whole-value headers, URL credentials, command lines (`redis-cli -a`,
   `mysql -p…`, Redis `AUTH`), password hashes; a harmless value (a URL without credentials, a
   host, a boolean) under a key that merely looks secret is shown;
   secrets with no key name and no known prefix (`commands.masking.unnamed`: a token as a URL's
   user, a webhook URL's path, an unknown vendor's prefixed token, base64 of `user:password`);
   a secret a few words after its key (`commands.masking.prose`: "the password for the db is X");
   a key on one line and its value on the next ones (`commands.masking.lines`; shell line
   continuations are joined first);
3. the bot's own configured secrets (DSN passwords, tokens; `remember`), wherever they appear;
4. key names written with full-width or zero-width characters, or with letters of another
   script that look like Latin ones (Cyrillic or Greek letters in `password`), are read as what
   they spell (NFKC, format characters dropped, Unicode's confusables) before any of the above;
   so are secret words in leet (`p@ssword`, `passw0rd`, `s3cret`, `t0ken`); the words for password,
   secret and token in a dozen other languages are secret words themselves (`SECRET_WORD`).

A masked value becomes `***`; the key, the scheme and the quotes stay, so the text still says
what was there. A line too long and too dense in secret words to read one by one (hostile input:
`password=password=…`) is masked whole, saying so (`HOSTILE_DENSITY`); every finder reads each
position a bounded number of times, so masking takes time linear in the text's length.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import cache, lru_cache
from urllib.parse import unquote, urlsplit

from commands.masking.lines import split_spans
from commands.masking.prose import PROSE_FINDERS
from commands.masking.rules import format_spans
from commands.masking.shapes import FINDERS, HINTS, MAYBE_SECRET_WORD, NAME, Span, harmless, names_a_secret
from commands.masking.unnamed import unnamed_spans

MASK = "***"
SHORT = 512

_known: set[str] = set()


def remember(*values: str | None) -> None:
    """Register the bot's own secrets (a password, a token, or a URL whose password to take):
    they are masked wherever they appear, whatever surrounds them."""
    for value in values:
        if not value:
            continue
        if "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                _known.update({password, unquote(password)})
            continue
        _known.add(value)
    _redact_short.cache_clear()


_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----")
# a line of a key's body: base64 (or a `Proc-Type:` header), maybe after a timestamp, maybe ending in an escaped \n
_KEY_MATERIAL = re.compile(
    r"(?:\d{4}-\d\d-\d\d[T ][\d:.,]+Z?\s+)?[ \t]*(?:[A-Za-z0-9+/=]{8,}|[A-Za-z-]+: .*|)[ \t]*(?:\\n)?[ \t]*[\"',]?"
)
_PEM_MAX = 16_000  # characters: a 4096-bit key is about 3,300


def _pem(text: str) -> list[Span]:
    """A private key from its BEGIN line to its END line; when the END is not there (the key is
    cut, or split over log lines), to the last line that still looks like key material."""
    spans: list[Span] = []
    for m in _PEM_BEGIN.finditer(text):
        end = _PEM_END.search(text, m.end(), m.end() + _PEM_MAX)
        if end:
            spans.append((m.start(), end.end()))
            continue
        stop = text.find("\n", m.end())
        while stop != -1:
            nxt = text.find("\n", stop + 1)
            line = text[stop + 1 : nxt if nxt != -1 else len(text)]
            if not line.strip() or not _KEY_MATERIAL.fullmatch(line):
                break
            stop = nxt
        spans.append((m.start(), stop if stop != -1 else len(text)))
    return spans


# a PuTTY key file (.ppk): `Private-Lines: N` then N lines of the private key, and its `Private-MAC:`
_PUTTY = re.compile(r"(?m)^[ \t]*Private-Lines:[ \t]*(?P<n>\d{1,3})[ \t]*\r?$|^[ \t]*Private-MAC:[ \t]*(?P<mac>\S+)")


def _putty(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _PUTTY.finditer(text):
        if m["mac"]:
            spans.append(m.span("mac"))
            continue
        end = m.end()
        for _ in range(int(m["n"])):  # the key's lines
            if end >= len(text):
                break
            nxt = text.find("\n", end + 1)
            end = nxt if nxt != -1 else len(text)
        spans.append((m.end() + 1, end))
    return spans


# `password:` (or `password: |`) with its value on the following lines: a YAML list or block
_BLOCK_KEY = re.compile(rf"(?im)^(?P<indent>[ \t]*)(?:-[ \t]+)?[\"']?{NAME}[\"']?[ \t]*:[ \t]*(?:[|>][-+]?)?[ \t]*$")


def _yaml_blocks(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _BLOCK_KEY.finditer(text):
        indent = len(m["indent"].expandtabs())
        pos = m.end()
        while pos < len(text):
            nxt = text.find("\n", pos + 1)
            line = text[pos + 1 : nxt if nxt != -1 else len(text)]
            lead = len(line) - len(line.lstrip())
            if not line.strip() or not (lead > indent or (lead == indent and line.lstrip().startswith("- "))):
                break
            body = line.lstrip().removeprefix("- ").strip()
            if body:
                at = pos + 1 + line.index(body)
                spans.append((at, at + len(body)))
            pos = nxt if nxt != -1 else len(text)
    return spans


# a Kubernetes env entry in YAML: `- name: DB_PASSWORD` and, on a following line of the entry, `value: P`
_ENV_NAME = re.compile(r"(?m)^(?P<indent>[ \t]*)-[ \t]+name:[ \t]*[\"']?(?P<name>[\w.-]{1,80})[\"']?[ \t]*$")
_ENV_VALUE = re.compile(r"[ \t]+value:[ \t]*(?:\"(?P<dq>[^\"\n]*)\"|'(?P<sq>[^'\n]*)'|(?P<val>[^\n]*[^\s]))")


def _yaml_env_entries(text: str) -> list[Span]:
    spans: list[Span] = []
    for m in _ENV_NAME.finditer(text):
        if not secret_key(m["name"]):
            continue
        indent = len(m["indent"].expandtabs())
        pos = m.end()
        while pos < len(text):  # the entry's other lines: indented deeper than its `-`
            nxt = text.find("\n", pos + 1)
            line_end = nxt if nxt != -1 else len(text)
            line = text[pos + 1 : line_end]
            if len(line) - len(line.lstrip()) <= indent:
                break
            if (v := _ENV_VALUE.fullmatch(line)) is not None:
                g = next(g for g in ("dq", "sq", "val") if v.group(g) is not None)
                if not harmless(v[g], m["name"]):
                    spans.append((pos + 1 + v.start(g), pos + 1 + v.end(g)))
                break
            pos = line_end
    return spans


_FINDERS = (*FINDERS, *PROSE_FINDERS)


def _spans(text: str) -> list[Span]:
    spans = [*format_spans(text), *_pem(text), *(_putty(text) if "Private-" in text else ())]
    low = text.lower()
    found = [(needles, finder) for needles, finder in _FINDERS if any(n in low for n in needles)]
    if "\n" not in text:
        for _, finder in found:
            spans.extend(finder(text))
    elif found:  # the shapes are one-line: each finder reads only the lines that have its words
        start = 0
        # a shell line continuation (`\` at a line's end) joins its lines: same length, so spans stay put
        joined, low = (text.replace("\\\n", "  "), low.replace("\\\n", "  ")) if "\\\n" in text else (text, low)
        for line, low_line in zip(joined.split("\n"), low.split("\n"), strict=True):
            for needles, finder in found:
                if any(n in low_line for n in needles):
                    spans.extend((start + a, start + b) for a, b in finder(line))
            start += len(line) + 1
    spans.extend(unnamed_spans(text, low))  # these run over the whole text at once
    if "\n" in text:
        spans.extend(split_spans(text))
    if "\n" in text and ":" in text:
        spans.extend(_yaml_blocks(text))
        if "name:" in text:
            spans.extend(_yaml_env_entries(text))
    for secret in _known:
        if len(secret) >= 4:
            at = text.find(secret)
            while at != -1:
                spans.append((at, at + len(secret)))
                at = text.find(secret, at + len(secret))
    return spans


@cache
def _look_alikes() -> dict[str, str]:
    """Each non-ASCII character that looks like an ASCII letter or digit, and that one (Unicode's
    confusables, TR39, as packaged by `confusable_homoglyphs`): Cyrillic er -> `p`, Greek omicron -> `o`."""
    from confusable_homoglyphs.confusables import confusables_data

    table: dict[str, str] = {}
    for char, homoglyphs in confusables_data.items():
        if len(char) == 1 and not char.isascii():
            ascii_ = [h["c"] for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalnum()]
            if ascii_:
                table[char] = ascii_[0]
    return table


def _fold(text: str) -> tuple[str, list[int]] | None:
    """`text` as it reads (NFKC: full-width letters as ASCII; zero-width and other format
    characters dropped; letters of other scripts that look like ASCII ones read as those), with
    the index in `text` of each folded character; None if unchanged."""
    out: list[str] = []
    where: list[int] = []
    look_alikes = _look_alikes()
    for i, c in enumerate(text):
        if c.isascii():
            out.append(c)
            where.append(i)
            continue
        folded = "" if unicodedata.category(c) == "Cf" else unicodedata.normalize("NFKC", c)
        folded = "".join(look_alikes.get(f, f) for f in folded)
        out.append(folded)
        where.extend([i] * len(folded))
    folded_text = "".join(out)
    return None if folded_text == text else (folded_text, where)


# a secret word written with digits or symbols for letters (`p@ssword`, `passw0rd`, `s3cret`, `t0ken`);
# the plain spellings are SECRET_WORD's own
_LEET = re.compile(r"(?i)(?:p[a@4][s$5][s$5](?:w[o0]r[d]|phr[a@4][s$5][e3])|[s$5][e3]cr[e3][t7]|[t7][o0]k[e3]n)")
_LEET_AS = {"p": "password", "s": "secret", "t": "token"}


def _unleet(text: str) -> str | None:
    """`text` with each secret word in leet spelled plainly (same length, so spans stay put); None if it has none."""
    if not any(c in text for c in "@$013457"):
        return None
    out = _LEET.sub(lambda m: m[0] if m[0].isalpha() else _plain(m[0]), text)
    return out if out != text else None


def _plain(word: str) -> str:
    low = word.lower()
    if low[0] == "p" and len(word) == 10:
        return "passphrase"
    return _LEET_AS["s" if low[0] in "s$5" else "t" if low[0] in "t7" else "p"]


HOSTILE_LINE = 4096
"""Characters above which a line is checked for being hostile."""
HOSTILE_DENSITY = 32
"""A line longer than `HOSTILE_LINE` with a secret word (`HINTS`) more often than once in this many
characters on average is masked whole, saying so, instead of read (`password=password=…`)."""
HOSTILE_MASK = MASK + " (a line of {n:,} characters masked whole: too many secret words to read)"


def _hostile_lines(text: str) -> list[Span]:
    """Spans of the lines too dense in secret words to read one by one (see `HOSTILE_DENSITY`)."""
    spans: list[Span] = []
    start = 0
    for line in text.split("\n") if len(text) > HOSTILE_LINE else ():
        if len(line) > HOSTILE_LINE:
            low = line.lower()
            if sum(low.count(h) for h in HINTS) * HOSTILE_DENSITY > len(line):
                spans.append((start, start + len(line)))
        start += len(line) + 1
    return spans


def _masked(text: str, spans: list[Span], whole: frozenset[Span] = frozenset()) -> str:
    out: list[str] = []
    last = 0
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if b <= last:
            continue
        if a < last:  # overlaps the previous mask: extend it
            last = b
            continue
        if (a, b) in whole:
            out += [text[last:a], HOSTILE_MASK.format(n=b - a)]
            last = b
            continue
        out += [text[last:a], "\n".join(MASK for _ in range(text.count("\n", a, b) + 1))]  # lines stay lines
        last = b
    out.append(text[last:])
    return "".join(out)


def redact(text: str) -> str:
    """`text` with every secret masked (see the module docstring for the kinds). Short strings
    repeat (a report's topics, statuses, names): their answers are cached."""
    if not text:
        return text
    return _redact_short(text) if len(text) <= SHORT else _redact(text)


@lru_cache(maxsize=1 << 15)
def _redact_short(text: str) -> str:
    return _redact(text)


def _redact(text: str) -> str:
    original, hostile = text, _hostile_lines(text)
    if hostile:  # not read: blanked (same length, so every other span stays put) and masked whole
        parts, last = [], 0
        for a, b in hostile:
            parts += [text[last:a], " " * (b - a)]
            last = b
        text = "".join([*parts, text[last:]])
    spans = _spans(text) + hostile
    if not text.isascii() and (folding := _fold(text)) is not None:
        folded, where = folding
        spans += [(where[a], where[b - 1] + 1) for a, b in _spans(folded) if b > a]
    if (plain := _unleet(text)) is not None:
        spans += _spans(plain)
    return _masked(original, spans, frozenset(hostile)) if spans else original


def redact_lines(lines: list[str]) -> list[str]:
    """`redact` over consecutive lines of one source (a container's log), so that a secret written
    over several lines (a PEM key, `password:` and its YAML list item) is masked on every line."""
    joined = "\n".join(line.replace("\n", " ") for line in lines)
    return _redact(joined).split("\n") if joined else list(lines)


def redact_pair(key: str, value: str, *, broad: bool = False) -> str:
    """`value` of `key` (a label, a JSON field; with `broad`, an env var or configmap key, whose
    names are looser: `*_KEY`, `*_DSN`, `*_AUTH*`) ready to show: masked whole when the key's name
    means a secret and the value is not of a harmless shape (a URL without credentials, a host, a
    boolean), else masked by kind."""
    if value and secret_key(key, broad=broad) and not harmless(value, key):
        return MASK
    return redact(value)


def redact_data(value: object) -> object:
    """`redact` every string inside nested dicts and lists (a report's JSON form); a value whose
    key (or table column, or the `name`/`key` beside a `value`: an env list's entry) means a secret is
    masked whole unless of a harmless shape (`redact_pair`)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        if isinstance(value.get("columns"), list) and isinstance(value.get("rows"), list):  # a table
            columns = [str(c) for c in value["columns"]]
            value = {
                **value,
                "rows": [
                    [
                        redact_pair(columns[i], cell) if i < len(columns) and isinstance(cell, str) else cell
                        for i, cell in enumerate(row)
                    ]
                    if isinstance(row, list)
                    else row
                    for row in value["rows"]
                ],
            }
        named = value.get("name", value.get("key"))  # an env list's entry: {"name": "DB_PASSWORD", "value": "…"}
        if isinstance(named, str) and isinstance(value.get("value"), str) and secret_key(named, broad=True):
            value = {**value, "value": redact_pair(named, value["value"], broad=True)}
        return {
            k: redact_pair(k, v) if isinstance(k, str) and isinstance(v, str) else redact_data(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


_SECRET_NAME = re.compile(NAME, re.I)


@lru_cache(maxsize=4096)
def secret_key(key: str, *, broad: bool = False) -> bool:
    """Whether a key's name means a secret (read as it looks: full-width and zero-width characters folded)."""
    folding = _fold(key) if not key.isascii() else None
    name = folding[0] if folding else key
    if not names_a_secret(name):  # `token_expiry`, `secretName`: a property of a secret
        return False
    return _SECRET_NAME.fullmatch(name) is not None or (broad and MAYBE_SECRET_WORD.search(name) is not None)


class RedactingFilter(logging.Filter):
    """A log handler filter that masks every record's message (and its exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
