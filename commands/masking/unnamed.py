"""Secrets with no key name in front and no prefix a rule knows: found by where they sit and how
random they look. Each finder returns the (start, end) spans of secret values in a text.

1. a token alone as a URL's user part (`https://<key>@o1.ingest.sentry.io/2`, a token-only git
   remote `https://<token>@git.example.org/x.git`); a plain user name (`git@`, `deploy@`) is shown;
2. a webhook URL's path (Discord, Slack triggers, Teams, Mattermost, Zapier, any `/hooks/…`,
   and the path after a `/key/`, `/token/`, `/secret/` segment): masked from the first path
   segment after the hook's to the end of the path; a Telegram bot token (`bot<id>:<secret>`);
   a query value under a short name that carries a secret (an OAuth `code=`, a `key=`); a
   `.pgpass` line's password;
3. a token with an identifiable prefix no rule knows (`whsec_…`, mailgun's `key-…`, the next
   vendor's `acme_live_…`): a short lower-case prefix, `_` or `-`, and 28 or more random-looking
   letters and digits (not hex only: container ids and digests stay readable);
4. base64 of `user:password` anywhere (not only after `Basic`);
5. the value of a key whose name ends in `key` (`routing_key`, `integration key:`) when it looks
   random (a cache or partition key does not).

"Random-looking" (`random_looking`): letters and digits mixed, a Shannon entropy of 3.5 bits per
character or more, and the character class (digit, lower, upper) changing at a third or more of
the places (identifiers such as `UserProgressRepositoryImpl2` change at about a quarter).

Patterns run with RE2 (linear time), once over a whole text; no match crosses a line's end.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from collections.abc import Callable, Iterator
from itertools import pairwise

import re2

Span = tuple[int, int]

_HEX = re2.compile(r"[0-9a-fA-F]+")
_UUID = re2.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class _Found:
    """A match of a `_Pattern`: named groups as text, spans in characters."""

    def __init__(self, m: re2._Match, index: dict[str, int]) -> None:
        self._m, self._index = m, index

    def group(self, name: str) -> str:
        value = self._m.group(self._index[name])
        return value.decode("ascii") if value is not None else ""

    def span(self, name: str = "val") -> Span:
        """The span of a named group, or with `name` "", of the whole match."""
        span: Span = self._m.span(self._index[name] if name else 0)
        return span


class _Pattern:
    """An RE2 pattern run over ASCII bytes (`_ascii`): RE2's str matching converts every offset
    between characters and bytes from the text's start, which is quadratic over a chunk of lines."""

    def __init__(self, pattern: str) -> None:
        self._re = re2.compile(pattern.encode())
        self._index = {k.decode() if isinstance(k, bytes) else k: v for k, v in self._re.groupindex.items()}

    def finditer(self, data: bytes) -> Iterator[_Found]:
        return (_Found(m, self._index) for m in self._re.finditer(data))

    def search(self, data: bytes, pos: int) -> _Found | None:
        m = self._re.search(data, pos)
        return _Found(m, self._index) if m is not None else None


def _ascii(text: str) -> bytes:
    """`text` as bytes with one byte per character (others become `?`), so byte spans are character spans."""
    return text.encode("ascii", "replace")


def _class(c: str) -> int:
    return 0 if c.isdigit() else 1 if c.islower() else 2


def random_looking(word: str, min_len: int = 16) -> bool:
    """Whether `word` looks like a generated secret rather than a name or an id (see the module doc)."""
    n = len(word)
    if n < min_len or not any(c.isdigit() for c in word) or not any(c.isalpha() for c in word):
        return False
    if -sum(k / n * math.log2(k / n) for k in Counter(word).values()) < 3.5:
        return False
    alnum = [c for c in word if c.isalnum()]
    changes = sum(_class(a) != _class(b) for a, b in pairwise(alnum))
    return changes >= 0.34 * max(1, len(alnum) - 1)


# 1. `scheme://TOKEN@host`: a user part with no `:password`
_URL_USER = _Pattern(r"(?i)\b[a-z][a-z0-9+.-]{1,20}://(?P<val>[A-Za-z0-9_~-]{16,200})@[A-Za-z0-9]")


def _url_user(text: bytes) -> Iterator[Span]:
    for m in _URL_USER.finditer(text):
        val = m.group("val")
        if any(c.isdigit() for c in val) and any(c.isalpha() for c in val) and len(set(val)) >= 8:
            yield m.span("val")


# 2. webhook URLs: the path after a hook segment (or after the first segment on a hook host)
_URL = _Pattern(r"(?i)\bhttps?://(?P<host>[^/\s?#\"'<>]{1,255})(?P<path>/[^\s?#\"'<>]*)")
_HOOK_SEGMENT = re2.compile(r"(?i)[a-z0-9_]*hooks?[a-z0-9_]*|keys?|api_?keys?|tokens?|secrets?")
_TELEGRAM = _Pattern(r"\b(?:bot)?\d{6,12}:(?P<val>[A-Za-z0-9_-]{30,80})\b")


def _webhook(text: bytes) -> Iterator[Span]:
    for m in _URL.finditer(text):
        host, path = m.group("host").lower(), m.group("path")
        segments = path.split("/")[1:]
        cut = next((i + 1 for i, s in enumerate(segments) if _HOOK_SEGMENT.fullmatch(s)), None)
        if cut is None and "hook" in host and segments:
            cut = 1
        if cut is None:
            continue
        rest = segments[cut:]
        if not any(len(s) >= 16 or (len(s) >= 6 and any(c.isdigit() for c in s)) for s in rest):
            continue  # a hook host's documentation page, not a hook
        start = m.span("path")[0] + sum(len(s) + 1 for s in segments[:cut]) + 1
        yield start, m.span("path")[1]


def _telegram(text: bytes) -> Iterator[Span]:
    yield from (m.span("val") for m in _TELEGRAM.finditer(text) if random_looking(m.group("val"), 30))


# 2b. a short query name that carries a secret: an OAuth `code`, a `key`
_QUERY = _Pattern(r"(?i)[?&](?:code|key|auth|k)=(?P<val>[^&#\s\"'<>]{8,400})")


def _query(text: bytes) -> Iterator[Span]:
    for m in _QUERY.finditer(text):
        val = m.group("val")
        if any(c.isdigit() for c in val) and any(c.isalpha() for c in val):
            yield m.span("val")


# 2c. a credential file's line: `.pgpass`'s host:port:database:user:password
_PGPASS = _Pattern(r"(?m)^[^:\s#]{1,255}:(?:\d{1,5}|\*):[^:\s]{1,255}:[^:\s]{1,255}:(?P<val>[^\s]{1,200})$")


def _pgpass(text: bytes) -> Iterator[Span]:
    yield from (m.span("val") for m in _PGPASS.finditer(text))


# 3. identifiable-prefix tokens: `whsec_…`, `key-…`, `acme_live_…`
_PREFIXED = _Pattern(r"\b[a-z][a-z0-9]{1,11}(?:[_-][a-z0-9]{1,8})?[_-](?P<val>[A-Za-z0-9]{28,200})\b")


def _prefixed(text: bytes) -> Iterator[Span]:
    for m in _PREFIXED.finditer(text):
        val = m.group("val")
        if not _HEX.fullmatch(val) and random_looking(val, 28):
            yield m.span("")


# 4. base64 of `user:password`
_B64 = _Pattern(r"(?:^|[^A-Za-z0-9+/])(?P<val>[A-Za-z0-9+/]{12,400}={0,2})(?:$|[^A-Za-z0-9+/=])")
_USER = re2.compile(r"[\w.@+-]{1,64}")


def _base64_credentials(text: bytes) -> Iterator[Span]:
    pos = 0
    while (m := _B64.search(text, pos)) is not None:
        val = m.group("val")
        pos = m.span("val")[1]
        if len(val.rstrip("=")) % 4 == 1:
            continue
        try:
            decoded = base64.b64decode(val + "=" * (-len(val) % 4), validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        user, colon, password = decoded.partition(":")
        if colon and password and decoded.isprintable() and " " not in password and _USER.fullmatch(user):
            yield m.span("val")


# 5. `routing_key R0uT…`, `integration key: …`, `"license_key": "…"`
_KEY_VALUE = _Pattern(
    # a separator after the name (`:`, `=`, `=>` or a space): `ssl.keyStorePassword=…` has no key `ssl.key`
    r"(?i)(?P<name>[a-z0-9_.-]*[_ .-]key)[\"']?(?:[ \t]*(?:[:=]|=>)|[ \t])[ \t]*[\"']?(?P<val>[A-Za-z0-9_+/=.-]{16,200})"
)


def _random_key_value(text: bytes) -> Iterator[Span]:
    for m in _KEY_VALUE.finditer(text):
        val = m.group("val")
        if not _UUID.fullmatch(val) and random_looking(val.replace("-", "").replace("_", "")):
            yield m.span("val")


UNNAMED_FINDERS: tuple[tuple[tuple[str, ...], Callable[[bytes], Iterator[Span]]], ...] = (
    (("@",), _url_user),
    (("hook", "/key", "/token", "/secret", "/api"), _webhook),
    ((":",), _telegram),
    (("?", "&"), _query),
    ((":",), _pgpass),
    (("_", "-"), _prefixed),
    (("",), _base64_credentials),
    (("key",), _random_key_value),
)
"""Every finder here, with the lower-case words one of which a text must contain for it to be tried
(as `commands.masking.shapes.FINDERS`). None reads past a line's end: each runs once over a whole
text (a chunk of log lines), one RE2 scan instead of one call per line."""


def unnamed_spans(text: str, low: str) -> list[Span]:
    """Spans of every secret here in `text` (`low`: it lower-cased), each finder run once over it."""
    found = [finder for needles, finder in UNNAMED_FINDERS if any(n in low for n in needles)]
    if not found:
        return []
    data = _ascii(text)
    return [span for finder in found for span in finder(data)]
