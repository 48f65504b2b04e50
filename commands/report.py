"""What a check returns: findings with a severity, evidence and suggested remediations.

This is data only. `bot.render.report_blocks` and `bot.render.report_text` turn it into Block Kit or
terminal text; `Report.model_dump_json()` is the `--json` shape.

Every string here is plain text, much of it foreign (read from the inspected systems or typed
by a user): checks never write Slack markup (no backticks, fences, `*bold*`, `<...>` links).
Verbatim lines (log lines, queries, values) go in a `Code` block; the renderers add all
markup, escaping and masking.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, PrivateAttr


class Severity(StrEnum):
    """How bad a finding is. `unknown` means the evidence could not be gathered."""

    OK = "ok"
    WARNING = "warning"
    UNKNOWN = "unknown"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Order used to pick a report's worst finding (critical beats could-not-check)."""
        return _RANK[self]

    @property
    def exit_code(self) -> int:
        """The `alp` terminal exit code: 0 ok, 1 warning, 2 critical, 3 could not check."""
        return _EXIT[self]


ALWAYS_SHOWN = frozenset({"changes"})  # probes whose OK findings are context, never folded away

_RANK = {Severity.OK: 0, Severity.WARNING: 1, Severity.UNKNOWN: 2, Severity.CRITICAL: 3}
_EXIT = {Severity.OK: 0, Severity.WARNING: 1, Severity.CRITICAL: 2, Severity.UNKNOWN: 3}


class Text(BaseModel):
    """A paragraph of evidence, plain text."""

    kind: Literal["text"] = "text"
    text: str


class Code(BaseModel):
    """Verbatim lines (log lines, a query, a stored value), shown monospaced as they are."""

    kind: Literal["code"] = "code"
    text: str


_LINE_BREAKS = {
    "\r\n": "\\r\\n",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\f": "\\f",
    "\x85": "\\x85",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_BREAK = re.compile("|".join(re.escape(k) for k in _LINE_BREAKS))


def one_line(text: str) -> str:
    """Foreign text for one row or one line of the bot's own (a table cell, a list item, a timeline
    line): line breaks and tabs shown as `\\n`, `\\t`…, so a value cannot start a row or a column
    of its own (a configmap value `x\\n03-01 00:00Z deployment …` stays in its cell)."""
    return _BREAK.sub(lambda m: _LINE_BREAKS[m[0]], text) if _BREAK.search(text) else text


class Table(BaseModel):
    """Tabular evidence, e.g. one row per partition (a cell is one line: `one_line` when shown)."""

    kind: Literal["table"] = "table"
    columns: list[str]
    rows: list[list[str]]


class Fields(BaseModel):
    """Short label/value pairs, e.g. `total lag: 1200`."""

    kind: Literal["fields"] = "fields"
    items: dict[str, str]


Evidence = Annotated[Text | Code | Table | Fields, Field(discriminator="kind")]


class Suggestion(BaseModel):
    """A runbook remediation worth running, named by its action and parameters."""

    action: str
    params: dict[str, str | int] = Field(default_factory=dict)
    why: str = ""

    @property
    def label(self) -> str:
        """`scale deployment=user-service replicas=5` style one-liner."""
        args = " ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.action} {args}".strip()


class Finding(BaseModel):
    """One judged observation: what is wrong (or fine), how bad, the evidence, what to do."""

    severity: Severity
    title: str
    detail: str = ""
    probe: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    suggestions: list[Suggestion] = Field(default_factory=list)
    asked: bool = False  # the answer to what the person asked for (`--pattern`, `--user`): never folded away
    judged: bool = True  # False: a value shown as asked (a typed PromQL series), no verdict: a neutral marker


class Report(BaseModel):
    """The result of one check target."""

    target: str
    started_at: datetime
    duration_s: float
    findings: list[Finding]
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def severity(self) -> Severity:
        """The worst severity among the findings (ok when there are none)."""
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=Severity.OK)

    @property
    def exit_code(self) -> int:
        """0 ok, 1 warning, 2 critical, 3 could not check (unless something else is critical)."""
        return self.severity.exit_code

    def worst_first(self) -> list[Finding]:
        """The findings, worst first (critical, could-not-check, warning, ok); ties keep their order."""
        return sorted(self.findings, key=lambda f: -f.severity.rank)

    def shown(self, show_all: bool = False) -> tuple[list[Finding], int]:
        """The findings a renderer lists, worst first, and how many OK ones fold into one count line.

        OK findings fold unless `show_all`, except context every reader needs (`ALWAYS_SHOWN`,
        e.g. "Changes in the last hour" beside a critical report) and the answer to what was asked (`asked`)."""
        ordered = self.worst_first()
        if show_all:
            return ordered, 0
        shown = [f for f in ordered if f.severity is not Severity.OK or f.probe in ALWAYS_SHOWN or f.asked]
        return shown, len(ordered) - len(shown)

    def folded(self) -> list[str]:
        """The probes whose OK findings `shown()` folds into the count line (what was read)."""
        shown, _ = self.shown()
        return [f.probe for f in self.worst_first() if f.probe and all(f is not s for s in shown)]

    @property
    def headline(self) -> str:
        """The answer first: `deadlocks: CRITICAL: 3 backend(s) waiting behind pid 812 …`.

        Names the worst finding (its title carries the numbers) and how many other problems there are;
        when all is well, what was read ("2 checks OK: DNS …; HTTPS …")."""
        ordered = self.worst_first()
        head = f"{self.target}: {self.severity.value.upper()}"
        if not ordered:
            return f"{head}: nothing was checked"
        worst = ordered[0]
        if worst.severity is Severity.OK and not any(f.judged for f in ordered):  # values shown, no verdict
            read = "; ".join(f.title for f in ordered[:2]) + ("; …" if len(ordered) > 2 else "")
            return f"{self.target}: shown, not judged: {read}"
        if worst.severity is Severity.OK:  # what was read, not a bare count: the judged ones only
            judged = [f for f in ordered if f.judged]
            read = "; ".join(f.title for f in judged[:2]) + ("; …" if len(judged) > 2 else "")
            return f"{head}: {len(judged)} checks OK: {read}"
        others = sum(1 for f in ordered[1:] if f.severity is not Severity.OK)
        more = f" (+{others} more problem(s))" if others else ""
        return f"{head}: {worst.title}{more}"

    def verdict(self, why: str, params: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """This report as an incident's timeline entry of kind "check": its text and data
        {target, severity, findings ("CRITICAL: title", worst first, at most 8, redacted), taken_at
        (ISO 8601, UTC: when the evidence was read), why (what ran it: "asked by …", "after restart",
        "before paging secondary", "on resolve"), params (the check's parameters, to run it again)}."""
        clean = self.redacted()
        findings = [
            f"{f.severity.value.upper()}: {f.title}" for f in clean.worst_first() if f.severity is not Severity.OK
        ]
        if not findings:
            findings = [f"OK: {clean.headline.partition(': OK: ')[2] or 'nothing was checked'}"]
        data = {
            "target": self.target,
            "severity": self.severity.value,
            "findings": findings[:8],
            "taken_at": self.started_at.isoformat(),
            "why": why,
            "params": params or {},
        }
        return f"check {self.target}: {self.severity.value.upper()} ({why})", data

    _redacted: Report | None = PrivateAttr(None)

    def redacted(self) -> Report:
        """A copy with every secret-looking string masked: what renderers must use.
        Computed once per report (a shared report may be rendered for many requests)."""
        from commands.masking.redact import redact_data

        if self._redacted is None:
            clean = Report.model_validate(redact_data(self.model_dump(mode="json")))
            clean._redacted = clean
            self._redacted = clean
        return self._redacted

    def to_json(self) -> str:
        """The documented `--json` shape: target, severity, exit code, headline, findings, data (redacted)."""
        clean = self.redacted()
        body = clean.model_dump(mode="json")
        body["findings"] = [f.model_dump(mode="json") for f in clean.worst_first()]  # the answer first
        body["severity"] = self.severity.value
        body["exit_code"] = self.exit_code
        body["headline"] = clean.headline
        return json.dumps(body, indent=2)
