"""The one place secrets are removed from text before it leaves the bot."""

from __future__ import annotations

import re

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@")
_SLACK_TOKEN = re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+|\bxapp-[A-Za-z0-9-]+")
_KEYVALUE = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)(['\"]?)[^\s'\",;]+\3")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
# SQL: ALTER/CREATE ROLE … PASSWORD 'x' (what pg_stat_activity may show of another session)
_SQL_PASSWORD = re.compile(r"(?i)\b(password\s+)'(?:[^']|'')*'")

MASK = "***"


def redact(text: str) -> str:
    """Mask URL passwords, Slack tokens, bearer tokens and `password=...` style values."""
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _SLACK_TOKEN.sub(MASK, text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    text = _SQL_PASSWORD.sub(lambda m: f"{m[1]}'{MASK}'", text)
    return _KEYVALUE.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{MASK}{m[3]}", text)


def redact_data(value: object) -> object:
    """`redact` every string inside nested dicts and lists (a report's JSON form)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_data(v) for v in value]
    return value
