"""Known secret formats: the gitleaks rule set (commands/data/gitleaks.toml, MIT), run with RE2.

Each rule (`[[rules]]`) has an RE2 `regex`, the `keywords` one of which a text must contain for the
rule to be tried, an optional Shannon `entropy` floor for the secret, and `allowlists` (regexes
against the secret, the whole match or the line; stopwords) that say a match is not a secret. The
secret is the rule's `secretGroup`, else its first non-empty group, else the whole match, as in
gitleaks' detect.go. Rules gitleaks applies only to some file paths are applied everywhere here
(the bot reads text, not files): masking more is the safe side.

RE2 runs in time linear in the text, so a hostile log line cannot stall the bot here; every
keyword is found in one pass of one RE2 alternation.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import re2

import commands

RULES_FILE = Path(commands.__file__).parent / "data" / "gitleaks.toml"  # the package's data, wherever this module sits
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a pattern RE2 cannot run is skipped, not logged to stderr


@dataclass(frozen=True)
class Allow:
    """One of a rule's allowlists: the match is no secret when it holds (any part, or all with AND)."""

    target: str  # "secret", "match" or "line"
    regexes: tuple[re2._Regexp, ...]
    stopwords: tuple[str, ...]
    all_of: bool
    needs_path: bool  # a path condition: never true here (there is no file path)

    def holds(self, secret: str, match: str, line: str) -> bool:
        subject = {"secret": secret, "match": match, "line": line}[self.target]
        parts: list[bool] = []
        if self.regexes:
            parts.append(any(r.search(subject) for r in self.regexes))
        if self.stopwords:
            low = secret.lower()
            parts.append(any(w in low for w in self.stopwords))
        if self.needs_path:
            parts.append(False)
        return bool(parts) and (all(parts) if self.all_of else any(parts))


@dataclass(frozen=True)
class Rule:
    id: str
    regex: re2._Regexp
    keywords: tuple[str, ...]
    entropy: float
    group: int  # the secret's group; 0: the first non-empty group, else the whole match
    allows: tuple[Allow, ...]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    by_keyword: dict[str, tuple[Rule, ...]]  # a keyword: the rules of every keyword inside it ("apikey": "api", "key")
    keywords: re2._Regexp  # every keyword, case-insensitive, in one alternation
    allow: Allow  # the global allowlist


def _allow(raw: dict[str, Any]) -> Allow:
    regexes = [str(r) for r in raw.get("regexes") or []]
    return Allow(
        target=str(raw.get("regexTarget", "secret")),
        # one alternation of them all: one pass instead of one per regex
        regexes=(re2.compile("|".join(f"(?:{r})" for r in regexes)),) if regexes else (),
        stopwords=tuple(str(w).lower() for w in raw.get("stopwords") or []),
        all_of=str(raw.get("condition", "OR")).upper() == "AND",
        needs_path=bool(raw.get("paths")),
    )


@cache
def rule_set() -> RuleSet:
    """The rules, compiled once (about half a second: the bot warms it at start)."""
    config = tomllib.loads(RULES_FILE.read_text())
    rules = tuple(
        Rule(
            id=r["id"],
            regex=re2.compile(r["regex"]),
            keywords=tuple(k.lower() for k in r.get("keywords", [])),
            entropy=float(r.get("entropy", 0)),
            group=int(r.get("secretGroup", 0)),
            allows=tuple(_allow(a) for a in r.get("allowlists", [])),
        )
        for r in config["rules"]
        if r.get("regex") and r.get("keywords")
    )
    by_keyword: dict[str, list[Rule]] = {}
    for rule in rules:
        for k in rule.keywords:
            by_keyword.setdefault(k, []).append(rule)
    words = sorted(by_keyword, key=len, reverse=True)
    inside = {w: tuple({r.id: r for k in words if k in w for r in by_keyword[k]}.values()) for w in words}
    return RuleSet(
        rules=rules,
        by_keyword=inside,
        keywords=re2.compile("(?i)" + "|".join(re2.escape(k) for k in words)),
        allow=_allow({k: v for k, v in config.get("allowlist", {}).items() if k != "paths"}),
    )


def entropy(text: str) -> float:
    """Shannon entropy of `text` in bits per character (gitleaks' `entropy` floor)."""
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values()) if n else 0.0


def _line(text: str, start: int, end: int) -> str:
    return text[text.rfind("\n", 0, start) + 1 : (text.find("\n", end) + 1 or len(text) + 1) - 1]


def secret_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of every secret a gitleaks rule finds in `text`, in no particular order."""
    rs = rule_set()
    low = text.lower()
    found = {m.group(0) for m in rs.keywords.finditer(low)}
    candidates = {rule.id: rule for word in found for rule in rs.by_keyword[word]}
    spans: list[tuple[int, int]] = []
    for rule in candidates.values():
        for m in rule.regex.finditer(text):
            if rule.group:
                g = rule.group
            else:
                g = next((i for i in range(1, (m.re.groups or 0) + 1) if m.group(i)), 0)
            secret = m.group(g) or ""
            if not secret or (rule.entropy and entropy(secret) < rule.entropy):
                continue
            line = _line(text, m.start(), m.end())
            if rs.allow.holds(secret, m.group(0), line) or any(a.holds(secret, m.group(0), line) for a in rule.allows):
                continue
            spans.append(m.span(g))
    return spans


_NOT_TOKENS = ("IPPublicDetector", "JwtTokenDetector", "BasicAuthDetector", "KeywordDetector")
"""detect-secrets detectors left out: addresses are evidence (block-ips); URL credentials, JWTs and
key names have their own finders in `commands.masking.shapes`."""


@cache
def _detect_secrets() -> tuple[re2._Regexp, ...]:
    """detect-secrets' regex detectors (looser spellings of some formats, such as short Slack tokens),
    those RE2 can run: the rest need look-around (IBM, Cloudant and SoftLayer `key = value`
    spellings, masked by the key-name shapes; GitLab tokens, which the gitleaks rules have)."""
    import importlib
    import inspect
    import pkgutil

    import detect_secrets.plugins as plugins
    from detect_secrets.plugins.base import RegexBasedDetector

    found: list[re.Pattern[str]] = []  # their patterns; compiled again with RE2 below
    for module in pkgutil.iter_modules(plugins.__path__):
        mod = importlib.import_module(f"{plugins.__name__}.{module.name}")
        for name, cls in inspect.getmembers(mod, inspect.isclass):
            if (
                cls.__module__ == mod.__name__
                and issubclass(cls, RegexBasedDetector)
                and not inspect.isabstract(cls)
                and name not in _NOT_TOKENS
            ):
                found.extend(cls().denylist)
    runnable = []
    for regex in found:
        try:
            flags = "(?i)" if regex.flags & re.IGNORECASE else ""
            runnable.append(re2.compile(flags + regex.pattern, _RE2_OPTIONS))
        except re2.error:
            continue
    return tuple(runnable)


def format_spans(text: str) -> list[tuple[int, int]]:
    """Spans of every known token format: the gitleaks rules, then detect-secrets' detectors."""
    return [*secret_spans(text), *(m.span() for regex in _detect_secrets() for m in regex.finditer(text))]
