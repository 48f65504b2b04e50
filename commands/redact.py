"""The one place secrets are masked before text leaves the bot: Slack, terminal, JSON, logs, audit.

Secrets are recognised by kind, not by one spelling:

1. values of keys whose name means a secret (password, passwd, pwd, pass, passphrase, secret,
   token, api key, access/private/auth key, credential, authorization, cookie, session id) in
   every form they are written: `k=v`, `k: v`, `"k": "v"`, `'k': 'v'`, `export K=v`, HTTP headers
   (`Authorization: Basic …`), `PASSWORD 'x'` in SQL;
2. credentials in URLs (`scheme://user:password@host`) and HTTP `Bearer`/`Basic` credentials;
3. known token formats, found by detect-secrets' regular-expression detectors (Slack, AWS,
   GitHub, GitLab, Stripe, Twilio, JWT, npm, PyPI, OpenAI, SendGrid, …), plus PEM private keys;
4. the bot's own configured secrets (DSN passwords, tokens; `remember`), wherever they appear,
   e.g. echoed alone by a client library's error message.

A masked value becomes `***`; the key, the scheme and the quotes stay, so the text still says
what was there.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from functools import cache, lru_cache
from urllib.parse import unquote, urlsplit

from detect_secrets.plugins.base import RegexBasedDetector

MASK = "***"

# A key name that means a secret, inside a longer identifier (DB_PASSWORD, client_secret, X-Api-Key).
_SECRET_WORD = (
    r"passw(?:or)?d|passphrase|(?<![a-z])pass(?![a-z])|(?<![a-z])pw(?![a-z])|pwd|secret|token|signature"
    r"|(?:api|access|private|auth|encryption|signing|master|session|jwt|hmac|shared|client)[_-]?key|apikey"
    r"|credentials?|authorization|cookie|session[_-]?id"
)
_NAME = rf"[a-z0-9_.-]*(?:{_SECRET_WORD})[a-z0-9_.-]*"
# Cheap prefilter (a superset of _SECRET_WORD, by substring): a line with none of these is skipped.
_HINTS = ("pass", "pw", "secret", "token", "signature", "key", "credential", "authoriz", "cookie", "session")


def _hinted(text: str) -> bool:
    low = text.lower()
    return any(h in low for h in _HINTS)


_AUTH_SCHEME = r"(?:basic|bearer|token|digest|negotiate)\s+"
# Headers whose whole value is a credential: `Authorization: Api-Key x`, `Cookie: a=b; c=d`.
_WHOLE_VALUE = r"(?:proxy-)?authorization(?![\w-])|(?:set-)?cookie(?![\w-])"
_HEADER = re.compile(
    rf"(?i)(?P<key>\b(?:{_WHOLE_VALUE})[\"']?)(?P<sep>\s*[:=]\s*[\"']?)"
    r"(?P<scheme>[A-Za-z][\w-]*[ \t]+(?=\S))?(?P<val>[^\s\"'][^\r\n\"']*)"
)
_KEYVALUE = re.compile(
    rf"""(?ix)
    (?P<key>(?P<q>["']?)(?<![a-z0-9_.-])(?!{_WHOLE_VALUE}){_NAME}(?P=q))   # the key, maybe quoted
    (?P<sep>\s*(?:=|:|=>)\s*)                               # k=v, k: v, "k": v, k => v
    (?P<scheme>{_AUTH_SCHEME})?
    (?P<val>"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^\s,;&'"<>)}}\]]+)
    """
)
# A command-line flag with its value after a space: `--password hunter2`, `--api-token x`.
_FLAG = re.compile(rf"(?i)(?P<flag>(?<![\w-])--?{_NAME})(?P<sep>\s+)(?P<val>(?!-)(?!\*\*\*)[^\s'\"]+)")
_URL_CREDENTIALS = re.compile(r"(?i)(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]+)@")
# `user:password@host` without a scheme (a log line's connection target)
_BARE_CREDENTIALS = re.compile(
    r"(?<![\w/:.@-])(?P<user>[A-Za-z_][\w.-]{0,63}):(?P<pw>[^\s:@/]{1,200})@(?=[A-Za-z0-9][\w-]*(?:\.[\w-]+|:\d))"
)
_GOOGLE_KEY = re.compile(r"AIza[0-9A-Za-z_-]{35}")
_BEARER = re.compile(r"(?i)\bbearer\s+(?!\*\*\*)[A-Za-z0-9._~+/=-]+")
_BASIC = re.compile(r"(?i)\bbasic\s+(?P<cred>[A-Za-z0-9+/]{6,}={0,2})")
_SQL_PASSWORD = re.compile(r"(?i)\b(password\s+)'(?:[^']|'')*'")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")  # detect-secrets' stops at the 2nd dot
# addresses are evidence (block-ips), not secrets; URL credentials and JWTs have their own patterns here
_NOT_TOKENS = ("IPPublicDetector", "JwtTokenDetector", "BasicAuthDetector")

_known: set[str] = set()


@cache
def _detectors() -> tuple[RegexBasedDetector, ...]:
    """detect-secrets' regex detectors of known token formats (imported once); a match is masked whole."""
    import importlib
    import inspect
    import pkgutil

    import detect_secrets.plugins as plugins

    found: list[RegexBasedDetector] = []
    for module in pkgutil.iter_modules(plugins.__path__):
        mod = importlib.import_module(f"{plugins.__name__}.{module.name}")
        for name, cls in inspect.getmembers(mod, inspect.isclass):
            if (
                cls.__module__ == mod.__name__
                and issubclass(cls, RegexBasedDetector)
                and not inspect.isabstract(cls)
                and name not in _NOT_TOKENS
            ):
                found.append(cls())
    return tuple(found)


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
            _redact_short.cache_clear()
            continue
        _known.add(value)
    _redact_short.cache_clear()


def _basic(m: re.Match[str]) -> str:
    try:
        decoded = base64.b64decode(m["cred"] + "=" * (-len(m["cred"]) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return m[0]
    return f"{m[0][: m.start('cred') - m.start()]}{MASK}" if ":" in decoded else m[0]


def _keyvalue(m: re.Match[str]) -> str:
    val = m["val"]
    quote = val[0] if val[:1] in ("'", '"') and len(val) > 1 and val[-1] == val[0] else ""
    return f"{m['key']}{m['sep']}{m['scheme'] or ''}{quote}{MASK}{quote}"


def redact(text: str) -> str:
    """`text` with every secret masked (see the module docstring for the kinds). Short strings
    repeat (a report's topics, statuses, names): their answers are cached."""
    if not text:
        return text
    return _redact_short(text) if len(text) <= SHORT else _redact(text)


SHORT = 512


@lru_cache(maxsize=1 << 15)
def _redact_short(text: str) -> str:
    return _redact(text)


def _redact(text: str) -> str:
    detectors = _detectors()
    for secret in _known:
        if len(secret) >= 4 and secret in text:
            text = text.replace(secret, MASK)
    text = _PEM.sub(MASK, text)
    text = _JWT.sub(MASK, text)
    for detector in detectors:
        for regex in detector.denylist:
            text = regex.sub(MASK, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _BARE_CREDENTIALS.sub(lambda m: f"{m['user']}:{MASK}@", text)
    text = _GOOGLE_KEY.sub(MASK, text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    text = _BASIC.sub(_basic, text)
    text = _SQL_PASSWORD.sub(lambda m: f"{m[1]}'{MASK}'", text)
    text = _HEADER.sub(lambda m: f"{m['key']}{m['sep']}{m['scheme'] or ''}{MASK}", text)
    if not _hinted(text):  # most log lines: no key can mean a secret
        return text
    lines = text.split("\n")  # key=value never spans lines: only lines naming a secret are scanned
    for i, line in enumerate(lines):
        if _hinted(line):
            line = _FLAG.sub(lambda m: f"{m['flag']}{m['sep']}{MASK}", line)
            lines[i] = _KEYVALUE.sub(_keyvalue, line)
    return "\n".join(lines)


def redact_data(value: object) -> object:
    """`redact` every string inside nested dicts and lists (a report's JSON form); a value whose
    key (or table column) means a secret is masked whole, whatever its shape."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        if isinstance(value.get("columns"), list) and isinstance(value.get("rows"), list):  # a table
            secret = [_is_secret_key(c) for c in value["columns"]]
            value = {
                **value,
                "rows": [
                    [MASK if i < len(secret) and secret[i] and cell else cell for i, cell in enumerate(row)]
                    if isinstance(row, list)
                    else row
                    for row in value["rows"]
                ],
            }
        return {k: MASK if _is_secret_key(k) and isinstance(v, str) and v else redact_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_data(v) for v in value]
    return value


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and _secret_name(key)


_SECRET_NAME = re.compile(_NAME, re.I)


@lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    return _SECRET_NAME.fullmatch(key) is not None


class RedactingFilter(logging.Filter):
    """A log handler filter that masks every record's message (and its exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
