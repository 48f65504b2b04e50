"""Secrets with no key name in front and no prefix a rule knows: found by where they sit and how
random they look. Each finder returns the (start, end) spans of secret values in one line.

1. a token alone as a URL's user part (`https://<key>@o1.ingest.sentry.io/2`, a token-only git
   remote `https://<token>@git.example.org/x.git`); a plain user name (`git@`, `deploy@`) is shown;
2. a webhook URL's path (Discord, Slack triggers, Teams, Mattermost, Zapier, any `/hooks/…`):
   masked from the first path segment after the hook's to the end of the path; a Telegram bot
   token (`bot<id>:<secret>`);
3. a token with an identifiable prefix no rule knows (`whsec_…`, mailgun's `key-…`, the next
   vendor's `acme_live_…`): a short lower-case prefix, `_` or `-`, and 28 or more random-looking
   letters and digits (not hex only: container ids and digests stay readable);
4. base64 of `user:password` anywhere (not only after `Basic`);
5. the value of a key whose name ends in `key` (`routing_key`, `integration key:`) when it looks
   random (a cache or partition key does not).

"Random-looking" (`random_looking`): letters and digits mixed, a Shannon entropy of 3.5 bits per
character or more, and the character class (digit, lower, upper) changing at a third or more of
the places (identifiers such as `UserProgressRepositoryImpl2` change at about a quarter).

Patterns run with RE2 (linear time); every scan is bounded by the line.
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


def _span(m: re2._Match, name: str = "val") -> Span:
    """A named group's span (RE2's match objects take group numbers only)."""
    span: Span = m.span(m.re.groupindex[name])
    return span


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
_URL_USER = re2.compile(r"(?i)\b[a-z][a-z0-9+.-]{1,20}://(?P<val>[A-Za-z0-9_~-]{16,200})@[A-Za-z0-9]")


def _url_user(line: str) -> Iterator[Span]:
    for m in _URL_USER.finditer(line):
        val = m.group("val")
        if any(c.isdigit() for c in val) and any(c.isalpha() for c in val) and len(set(val)) >= 8:
            yield _span(m, "val")


# 2. webhook URLs: the path after a hook segment (or after the first segment on a hook host)
_URL = re2.compile(r"(?i)\bhttps?://(?P<host>[^/\s?#\"'<>]{1,255})(?P<path>/[^\s?#\"'<>]*)")
_HOOK_SEGMENT = re2.compile(r"(?i)[a-z0-9_]*hooks?[a-z0-9_]*")
_TELEGRAM = re2.compile(r"\b(?:bot)?\d{6,12}:(?P<val>[A-Za-z0-9_-]{30,80})\b")


def _webhook(line: str) -> Iterator[Span]:
    for m in _URL.finditer(line):
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
        start = _span(m, "path")[0] + sum(len(s) + 1 for s in segments[:cut]) + 1
        yield start, _span(m, "path")[1]
    yield from (_span(m, "val") for m in _TELEGRAM.finditer(line) if random_looking(m.group("val"), 30))


# 3. identifiable-prefix tokens: `whsec_…`, `key-…`, `acme_live_…`
_PREFIXED = re2.compile(r"\b[a-z][a-z0-9]{1,11}(?:[_-][a-z0-9]{1,8})?[_-](?P<val>[A-Za-z0-9]{28,200})\b")


def _prefixed(line: str) -> Iterator[Span]:
    for m in _PREFIXED.finditer(line):
        val = m.group("val")
        if not _HEX.fullmatch(val) and random_looking(val, 28):
            yield m.span(0)


# 4. base64 of `user:password`
_B64 = re2.compile(r"(?:^|[^A-Za-z0-9+/])(?P<val>[A-Za-z0-9+/]{12,400}={0,2})(?:$|[^A-Za-z0-9+/=])")
_USER = re2.compile(r"[\w.@+-]{1,64}")


def _base64_credentials(line: str) -> Iterator[Span]:
    pos = 0
    while (m := _B64.search(line, pos)) is not None:
        val = m.group("val")
        pos = _span(m, "val")[1]
        if len(val.rstrip("=")) % 4 == 1:
            continue
        try:
            decoded = base64.b64decode(val + "=" * (-len(val) % 4), validate=True).decode("ascii")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
        user, colon, password = decoded.partition(":")
        if colon and password and decoded.isprintable() and " " not in password and _USER.fullmatch(user):
            yield _span(m, "val")


# 5. `routing_key R0uT…`, `integration key: …`, `"license_key": "…"`
_KEY_VALUE = re2.compile(
    r"(?i)(?P<name>[a-z0-9_.-]*[_ .-]key)[\"']?[ \t]*(?:[:=]|=>)?[ \t]*[\"']?(?P<val>[A-Za-z0-9_+/=.-]{16,200})"
)


def _random_key_value(line: str) -> Iterator[Span]:
    for m in _KEY_VALUE.finditer(line):
        val = m.group("val")
        if not _UUID.fullmatch(val) and random_looking(val.replace("-", "").replace("_", "")):
            yield _span(m, "val")


UNNAMED_FINDERS: tuple[tuple[tuple[str, ...], Callable[[str], Iterator[Span]]], ...] = (
    (("@",), _url_user),
    (("hook", "bot", "trigger", ":"), _webhook),
    (("_", "-"), _prefixed),
    (("",), _base64_credentials),
    (("key",), _random_key_value),
)
"""Every finder here, with the lower-case words one of which a line must contain for it to be tried
(as `commands.secret_shapes.FINDERS`)."""
