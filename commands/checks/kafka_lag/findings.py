"""`check kafka-lag` findings: a headline, one row per group, detail for the groups not OK.

Layout (an answer at a glance): the headline says how many groups are not OK and names the
worst with its lag and time behind, over a table of groups worst first; then one finding per
group that is not OK (the worst `DETAILED` of them, every group with `--all`) with its
partitions and the runbook's remediations; topics as one count line plus any that are not OK.
"""

from __future__ import annotations

from commands.checks.kafka_lag.assess import GroupLag
from commands.checks.kafka_lag.burrow import LagStatus
from commands.config import ChecksConfig
from commands.report import Fields, Finding, Severity, Suggestion, Table, Text

DETAILED = 3  # groups with their own finding, unless --all
LISTED = 15  # rows of the headline table, unless --all
PARTITION_ROWS = 5  # partitions shown per group (those most behind), unless --all

MEANING = {
    LagStatus.OK: "keeping up",
    LagStatus.WARN: "lag is growing: consumers are falling behind",
    LagStatus.UNKNOWN: "window too short to tell a stalled consumer from one that commits every few seconds",
    LagStatus.STALL: "live consumers, but the committed offset has not moved",
    LagStatus.STOP: "no consumer in the group while messages wait",
    LagStatus.REWIND: "a committed offset went backwards (offsets were reset or a consumer rewound)",
}


def behind(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds / 60:.0f}m" if seconds < 7200 else f"{seconds / 3600:.1f}h"


def _falling_behind(g: GroupLag) -> bool:
    """WARN from a committed partition whose lag grows; not only from partitions with no commit
    (rule 1 of `commands.checks.kafka_lag.burrow`), which say nothing about the consumers' pace."""
    return any(p.status is LagStatus.WARN and p.committed is not None and p.committed <= p.end for p in g.partitions)


def _detail(g: GroupLag, stall_window_s: float) -> str:
    status = g.status
    text = MEANING[status]
    if status is LagStatus.WARN and not _falling_behind(g):
        text = "the consumers read without committing"
    beyond = [p for p in g.partitions if p.committed is not None and p.committed > p.end]
    if beyond and not _falling_behind(g):
        text = (
            f"{len(beyond)} committed offset(s) past the log end (was the topic re-created or its log truncated?): "
            "the consumer's next fetch is out of range and it resets by auto.offset.reset, "
            "skipping or re-reading messages"
        )
    elif status is LagStatus.UNKNOWN:
        span = max(p.window.span_s for p in g.partitions)
        text = (
            f"window too short: the offset did not move in {span:.0f}s of samples, but a live consumer "
            f"is called STALL only after {stall_window_s:.0f}s (it may commit every few seconds). "
            "The bot's shared history answers this; or sample longer (--samples, --interval)."
        )
    elif status is LagStatus.STOP and not g.arriving:
        text += "; no new messages arrived in the window (an abandoned group?)"
    if g.no_commit:
        n = len(g.no_commit)
        text += (
            f". {n} assigned partition(s) have no commit: their lag counts from the log start, "
            "and a restarted consumer would re-read (or skip) them"
        )
    return text


def suggestions(g: GroupLag, partitions: dict[str, int]) -> list[Suggestion]:
    """The runbook's remediations for what the evidence shows; never reset-offsets for a live group."""
    out: list[Suggestion] = []
    status = g.status
    total = sum(partitions.get(t, 0) for t in g.topics) or len(g.partitions)
    if status is LagStatus.WARN and _falling_behind(g):
        if g.deployment and g.members < total:
            replicas = min(total, max(g.members * 2, g.members + 1))
            why = f"{g.members} consumer(s) for {total} partition(s): more can share the load"
            out.append(Suggestion(action="scale", params={"deployment": g.deployment, "replicas": replicas}, why=why))
        for t in g.topics:
            if t in partitions:
                out.append(
                    Suggestion(
                        action="add-partitions",
                        params={"topic": t, "partitions": max(partitions[t] * 2, 12)},
                        why="more partitions let more consumers work in parallel",
                    )
                )
    elif status in (LagStatus.STOP, LagStatus.STALL):
        if g.deployment:
            why = "consumers are stuck or gone; a rollout restart brings them back"
            out.append(Suggestion(action="restart", params={"deployment": g.deployment}, why=why))
        if status is LagStatus.STOP:  # Kafka resets only a group without members
            why = "last resort: skips the waiting messages (they are not processed)"
            out.append(Suggestion(action="reset-offsets", params={"group": g.group, "to": "latest"}, why=why))
    elif status is LagStatus.REWIND and g.members == 0:
        why = "only if the rewind was a mistake: the audit log says who reset offsets"
        out.append(Suggestion(action="reset-offsets", params={"group": g.group, "to": "latest"}, why=why))
    return out


def group_finding(g: GroupLag, partitions: dict[str, int], cfg: ChecksConfig, show_all: bool = False) -> Finding:
    # each fact once: status, lag and how far behind are in the title, not again in the fields
    fields = {"state": f"{g.state} ({g.protocol} protocol)", "members": str(g.members)}
    if g.deployment:
        fields["deployment"] = g.deployment
    worst = g.worst
    if worst is not None:
        fields["window"] = f"{worst.window.fill} samples over {worst.window.span_s:.0f}s"
    mixed = any(p.status is not g.status for p in g.partitions)  # else the title says every partition's status
    rows = [
        [
            p.topic,
            str(p.partition),
            "no commit" if p.committed is None else str(p.committed),
            str(p.end),
            str(p.lag),
            *([p.status.value] if mixed else []),
        ]
        for p in (g.partitions if show_all else sorted(g.partitions, key=lambda p: (-p.status.rank, -p.lag)))
    ]
    evidence: list[Fields | Table | Text] = [Fields(items=fields)]
    if not show_all and len(rows) > PARTITION_ROWS:
        rows = rows[:PARTITION_ROWS]
        evidence.append(
            Text(text=f"The {PARTITION_ROWS} partitions most behind of {len(g.partitions)}; --all shows all.")
        )
    columns = ["topic", "partition", "committed", "end", "lag", *(["status"] if mixed else [])]
    evidence.append(Table(columns=columns, rows=rows))
    if g.stale:
        evidence.append(
            Text(
                text=f"Stale offsets, not judged (no live member is assigned these topics): {', '.join(g.stale[:20])}"
                + (f" and {len(g.stale) - 20} more" if len(g.stale) > 20 else "")
            )
        )
    title = f"Consumer group {g.group}: {g.status.value}"
    if g.status is not LagStatus.OK or g.total_lag:
        title += f", lag {g.total_lag:,}"
        if g.lag_seconds is not None:
            title += f", behind by {behind(g.lag_seconds)}"
    return Finding(
        severity=g.severity,
        title=title,
        detail=_detail(g, cfg.kafka_lag.stall_window_s),
        probe="groups",
        evidence=list(evidence),
        suggestions=suggestions(g, partitions),
    )


def headline(groups: list[GroupLag], window: str, show_all: bool, asked: str | None = None) -> Finding:
    """How many groups are not OK, the worst with its lag and time behind, and one row per group.

    A group asked for by name that has no committed offset and no member owning a partition
    has nothing to judge: UNKNOWN, not OK (no evidence it consumes anything)."""
    bad = [g for g in groups if g.status is not LagStatus.OK]
    if not groups and asked:
        return Finding(
            severity=Severity.UNKNOWN,
            title=f"Consumer group {asked} has no committed offsets and no member owns a partition: nothing to judge",
            detail="its lag cannot be measured; if it should be consuming, see whether its consumers run",
            probe="groups",
        )
    if not groups:
        return Finding(severity=Severity.OK, title="No consumer groups have committed offsets", probe="groups")
    if bad:
        w = bad[0]
        title = (
            f"{len(bad)} of {len(groups)} consumer groups not OK; worst: {w.group} {w.status.value}, "
            f"lag {w.total_lag:,}, behind by {behind(w.lag_seconds)}"
        )
    else:
        title = f"All {len(groups)} consumer groups OK"
    listed = groups if show_all else groups[:LISTED]  # worst first
    rows = [
        [g.status.value, g.group, f"{g.total_lag:,}", behind(g.lag_seconds), str(g.members), g.deployment or "-"]
        for g in listed
    ]
    detail = f"Judged over {window}."
    if len(listed) < len(groups):
        rest = groups[len(listed) :]
        not_ok = sum(g.status is not LagStatus.OK for g in rest)
        detail += (
            f" {len(rest)} more group(s) not listed ({not_ok} not OK, {len(rest) - not_ok} OK): "
            "--all lists every group."
        )
    if not show_all and len(bad) > DETAILED:
        detail += f" Detail below for the {DETAILED} worst; --all shows every group's."
    severity = max((g.severity for g in groups), key=lambda s: s.rank)
    table = Table(columns=["status", "group", "lag", "behind by", "members", "deployment"], rows=rows)
    return Finding(severity=severity, title=title, detail=detail, probe="groups", evidence=[table])
