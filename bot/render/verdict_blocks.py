"""An incident's verdicts in its messages (#29, the living incident): the newest verdict of each
check first, with the time its evidence was read, and the ones they superseded as history; a
report message whose verdict a newer one superseded, marked as such at its top.

Data: the incident's "check" timeline entries (`Report.verdict`'s data: target, severity,
findings, taken_at, why); `escalation.ladder.pages.verdicts` says which is current."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.render.blocks import Block, context, section
from bot.render.escape import clean, keep_mentions
from escalation.ladder.pages import taken_at, verdicts
from escalation.model import TimelineEntry

SUPERSEDED_ID = "alp_superseded"  # the banner's block_id starts so: replaced, never stacked, on a later update
REMOVED = "remedy buttons removed (they acted on the evidence below)"
HISTORY = 3  # superseded verdicts an incident message lists (the postmortem has them all)
LINE = 160  # characters of a finding in a verdict line: one or two lines on a phone


def verdict_line(e: TimelineEntry) -> str:
    """mrkdwn: "17:05:20Z ml: OK: 3 checks OK … (before paging primary)"; the worst finding
    follows the severity when it is not OK. Foreign words masked and escaped, the bot's
    mentions of who asked kept."""
    sev = str(e.data.get("severity", "?")).upper()
    findings = [str(f) for f in e.data.get("findings") or []]
    what = ""
    if findings:
        first = findings[0].partition(": ")[2] or findings[0]
        what = ": " + (first if len(first) <= LINE else first[: LINE - 1] + "…")
        if len(findings) > 1:
            what += f" (+{len(findings) - 1} more)"
    why = str(e.data.get("why") or "")
    head = clean(f"{taken_at(e):%H:%M:%SZ} {e.data.get('target')}: {sev}{what}")
    return head + (f" ({keep_mentions(why)})" if why else "")


def verdict_blocks(entries: Sequence[TimelineEntry]) -> list[Block]:
    """The incident's verdicts: each check's newest, newest first, then up to `HISTORY` of those
    they superseded (one line for verdicts that said the same, at its newest); nothing when no
    check has run for it."""
    now, earlier = verdicts(list(entries))
    if not now:
        return []
    said: set[tuple[str, str, str]] = set()
    kept = []
    for e in earlier:  # newest first: a re-check that found the same again is listed once, at its newest
        what = (str(e.data.get("target")), str(e.data.get("severity")), str((e.data.get("findings") or [""])[0]))
        if what not in said:
            said.add(what)
            kept.append(e)
    earlier = kept
    blocks = [section("*Verdicts, newest first*\n" + "\n".join(f"• {verdict_line(e)}" for e in now))]
    if earlier:
        more = f" (+{len(earlier) - HISTORY} older)" if len(earlier) > HISTORY else ""
        lines = "\n".join(f"~{verdict_line(e)}~" for e in earlier[:HISTORY])
        blocks.append(context(f"Superseded{more}:\n{lines}"))
    return blocks


def newer_than(entries: Sequence[TimelineEntry], target: str, read_at: datetime) -> TimelineEntry | None:
    """The newest verdict of `target` whose evidence was read after `read_at`, or None."""
    now, _ = verdicts(list(entries))
    found = [e for e in now if e.data.get("target") == target and taken_at(e) > read_at]
    return found[0] if found else None


def banner_id(newest: TimelineEntry) -> str:
    """The block_id of the banner naming verdict `newest`: the message itself records which verdict
    marked it, so the marking is done once per newer verdict, across restarts and replicas."""
    return f"{SUPERSEDED_ID}:{newest.data.get('target')}:{newest.data.get('taken_at')}"[:255]


def marked_by(blocks: Sequence[Block], newest: TimelineEntry) -> bool:
    """True when a report message's `blocks` already carry the banner naming `newest`."""
    return any(b.get("block_id") == banner_id(newest) for b in blocks)


def superseded_report(
    blocks: Sequence[Block], target: str, read_at: datetime, old_severity: str, newest: TimelineEntry
) -> list[Block]:
    """A report message read at `read_at` under a banner naming the `newest` verdict of its check;
    the report stays below as history. Its remedy buttons go when the verdict changed (they act
    on evidence that is gone); an earlier banner is replaced (one saying the buttons were removed
    keeps saying so). The banner's block_id names `newest` (`marked_by`)."""
    changed = str(newest.data.get("severity")) != old_severity
    earlier = [b for b in blocks if str(b.get("block_id", "")).startswith(SUPERSEDED_ID)]
    report = [b for b in blocks if b not in earlier]
    kept = [b for b in report if not (changed and is_remedy(b))]
    removed = len(kept) < len(report) or any(REMOVED in str(b.get("text", "")) for b in earlier)
    note = REMOVED if changed and removed else f"run `/alp check {clean(target)}` for what is true now"
    banner = section(
        f":arrows_counterclockwise: *Superseded* by {verdict_line(newest)}\n"
        f"_The report below was read at {read_at:%H:%M:%SZ} ({clean(old_severity.upper())}); {note}._"
    )
    banner["block_id"] = banner_id(newest)
    return [banner, *kept]


def is_remedy(block: Block) -> bool:
    """An actions block of a report's remedy (or open-incident) buttons."""
    return block.get("type") == "actions" and any(
        str(e.get("action_id", "")).startswith(("alp_action_request", "incident_open_from_finding"))
        for e in block.get("elements", [])
    )
