"""The hook through which `alp changes` reads alp's own actions from the state store.

commands/ never imports escalation/: the bot and the terminal hand the reader over at start-up
(`escalation.audit.changes_since`). A module of its own so that wiring it imports nothing else
(neither the Kubernetes client nor the state store): a terminal run pays only for what it asks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

AuditRead = tuple[list[dict[str, Any]], dict[int, Any], str]
"""(audit records, {request id: stored request}, how far back the records read go)."""
AuditReader = Callable[[str, datetime], Awaitable[AuditRead]]
_reader: AuditReader | None = None


def use_audit_reader(reader: AuditReader) -> None:
    """Wire the state store's reader (`escalation.audit.changes_since`): commands/ never imports
    escalation/, so the bot and the terminal hand it over at start-up."""
    global _reader
    _reader = reader


async def read_audit(state_url: str, since: datetime) -> AuditRead:
    """Audit records from `since` (and an hour before, so a request asked earlier and run inside
    the window is matched) and the requests they name, through the wired reader.
    Raises LookupError when no reader is wired (a finding says so)."""
    if _reader is None:
        raise LookupError("the state store's reader is not wired in this process")
    return await _reader(state_url, since)
