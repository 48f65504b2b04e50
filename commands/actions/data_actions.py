"""Data-store remediations: terminate-queries, reindex (PostgreSQL), flush-cache (Redis),
add-partitions, reset-offsets (Kafka)."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Annotated, Any, Literal

from aiokafka import TopicPartition
from pydantic import AfterValidator, Field, model_validator

from commands.actions.registry import ActionContext, ActionParams, Outcome, Preview, Risk, action
from commands.actions.validators import IntList
from commands.backends import redis
from commands.backends.errors import BackendError, BackendRefused
from commands.backends.kafka import KafkaProbe, commit_offsets
from commands.backends.postgres import connect, execute, query


def _topic(value: str) -> str:
    if not re.fullmatch(r"[a-zA-Z0-9._-]{1,249}", value):
        raise ValueError(f"`{value}` is not a valid Kafka name")
    return value


KafkaName = Annotated[str, AfterValidator(_topic)]


# ---------------------------------------------------------------------- terminate-queries
class TerminateParams(ActionParams):
    pids: IntList | None = Field(None, description="exactly these backends")
    older_than_min: int | None = Field(None, ge=1, le=1440, description="active longer than N minutes")
    blocking: bool = Field(False, description="backends that block others")

    @model_validator(mode="after")
    def _one(self) -> TerminateParams:
        chosen = sum([bool(self.pids), self.older_than_min is not None, self.blocking])
        if chosen != 1:
            raise ValueError("say which backends: pids=1,2 or older_than_min=N or blocking=true (never all)")
        return self


async def preview_terminate(ctx: ActionContext, p: TerminateParams) -> Preview:
    base = """SELECT pid, usename, state, backend_start, extract(epoch FROM now() - query_start) AS age_s, query
              FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND """
    async with connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
        if p.pids:
            rows = await query(conn, base + "pid = ANY(%s)", list(p.pids))
        elif p.older_than_min is not None:
            rows = await query(
                conn, base + "state = 'active' AND query_start < now() - make_interval(mins => %s)", p.older_than_min
            )
        else:
            rows = await query(conn, base + "pid IN (SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity)")
    items = [
        {
            "pid": r["pid"],
            "user": r["usename"],
            "state": r["state"],
            "age_s": round(float(r["age_s"] or 0), 1),
            "query": " ".join((r["query"] or "").split())[:200],
            "backend_start": r["backend_start"].isoformat(),
        }
        for r in rows
    ]
    refusal = None if items else "no backend matches: nothing would be terminated"
    lines = [
        f"terminate pid {i['pid']} ({i['user']}, {i['state']}, {i['age_s']:.0f}s): {i['query'][:80]}" for i in items
    ]
    return Preview(lines, items=items, refusal=refusal, target="postgres/backends")


@action(
    "terminate-queries",
    summary="pg_terminate_backend for exactly the backends listed in the preview",
    runbook="SELECT pg_terminate_backend(pid) …",
    risk=Risk.DISRUPTIVE,
    params=TerminateParams,
    preview=preview_terminate,
    verify="deadlocks",
)
async def terminate_queries(ctx: ActionContext, p: TerminateParams, preview: Preview) -> Outcome:
    done: list[int] = []
    gone: list[int] = []
    async with connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
        for item in preview.items:
            # Only the backend that was previewed: same pid and same start (pids get reused).
            rows = await query(
                conn,
                """SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
                                        WHERE pid = %s AND backend_start = %s::timestamptz""",
                item["pid"],
                item["backend_start"],
            )
            (done if rows and rows[0]["ok"] else gone).append(item["pid"])
    details = [f"already gone (not touched): {gone}"] if gone else []
    return Outcome(
        bool(done) or not preview.items,
        f"terminated {len(done)} backend(s): {done}",
        {"pids": [i["pid"] for i in preview.items]},
        {"terminated": done},
        details,
    )


# ---------------------------------------------------------------------- reindex
class ReindexParams(ActionParams):
    table: str = Field(pattern=r"^[a-z_][a-z0-9_]{0,62}$")


async def preview_reindex(ctx: ActionContext, p: ReindexParams) -> Preview:
    allowed = ctx.config.actions.reindex_tables
    if p.table not in allowed:
        return Preview(
            [],
            refusal=f"table {p.table} is not on the reindex allowlist ({', '.join(allowed)})",
            target=f"postgres/table/{p.table}",
        )
    async with connect(ctx.config.postgres_dsn, ctx.config.timeouts.probe_s) as conn:
        rows = await query(
            conn,
            """SELECT indexrelid::regclass::text AS index,
                                           pg_size_pretty(pg_relation_size(indexrelid)) AS size
                                    FROM pg_index WHERE indrelid = to_regclass(%s)""",
            p.table,
        )
    if not rows:
        return Preview(
            [], refusal=f"table {p.table} does not exist or has no indexes", target=f"postgres/table/{p.table}"
        )
    indexes = ", ".join(f"{r['index']} ({r['size']})" for r in rows)
    return Preview(
        [f"REINDEX TABLE {p.table}: rebuilds {indexes}; writes to the table wait meanwhile"],
        items=rows,
        target=f"postgres/table/{p.table}",
    )


@action(
    "reindex",
    summary="REINDEX one table from the allowlist",
    runbook="REINDEX TABLE users;",
    risk=Risk.DISRUPTIVE,
    params=ReindexParams,
    preview=preview_reindex,
    positional=("table",),
    timeout_s=600,
    verify="db-load",
)
async def reindex(ctx: ActionContext, p: ReindexParams, preview: Preview) -> Outcome:
    async with connect(ctx.config.postgres_dsn, ctx.config.actions.lock_ttl_s) as conn:
        from psycopg import sql

        await execute(conn, sql.SQL("REINDEX TABLE {}").format(sql.Identifier(p.table)))
    return Outcome(True, f"reindexed {p.table} ({len(preview.items)} index(es))")


# ---------------------------------------------------------------------- flush-cache
def _db_index(url: str) -> int:
    m = re.search(r"/(\d+)(?:\?|$)", url.split("@")[-1])
    return int(m.group(1)) if m else 0


class FlushParams(ActionParams):
    db: int | None = Field(None, ge=0, le=15, description="must be the configured database index")


async def preview_flush(ctx: ActionContext, p: FlushParams) -> Preview:
    configured = _db_index(ctx.config.redis_url)
    if p.db is not None and p.db != configured:
        return Preview(
            [],
            refusal=f"flush-cache only empties the configured database index {configured}, not {p.db}",
            target=f"redis/db{configured}",
        )
    async with redis.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as client:
        size = await redis.key_count(client)
        on = (
            f"database {configured}"
            if redis.where(client) == "Redis"
            else f"every primary of the {redis.where(client)}"
        )
    return Preview(
        [f"FLUSHDB on {on}: {size} key(s) deleted; other databases untouched"],
        {"keys": size},
        {"keys": 0},
        target=f"redis/db{configured}",
    )


@action(
    "flush-cache",
    summary="FLUSHDB of the configured Redis database index only",
    runbook="redis-cli FLUSHDB",
    risk=Risk.DESTRUCTIVE,
    params=FlushParams,
    preview=preview_flush,
    verify="redis",
)
async def flush_cache(ctx: ActionContext, p: FlushParams, preview: Preview) -> Outcome:
    async with redis.connect(ctx.config.redis_url, ctx.config.timeouts.probe_s) as client:
        await client.flushdb()  # a cluster: every primary (redis-py's default for FLUSHDB)
        left = await redis.key_count(client)
    return Outcome(
        left == 0,
        f"flushed database {_db_index(ctx.config.redis_url)}: {preview.before['keys']} key(s) removed",
        preview.before,
        {"keys": left},
    )


# ---------------------------------------------------------------------- add-partitions
class AddPartitionsParams(ActionParams):
    topic: KafkaName
    partitions: int = Field(ge=1, le=10_000, description="the new total")


async def preview_add_partitions(ctx: ActionContext, p: AddPartitionsParams) -> Preview:
    async with KafkaProbe(ctx.config.kafka_bootstrap, ctx.config.timeouts.probe_s) as kp:
        topics = await kp.topics([p.topic])
    target = f"kafka/topic/{p.topic}"
    if p.topic not in topics:
        return Preview([], refusal=f"topic {p.topic} does not exist", target=target)
    current = topics[p.topic].partitions
    if p.partitions <= current:
        return Preview(
            [],
            {"partitions": current},
            refusal=f"{p.topic} has {current} partitions: Kafka can only increase them, and {p.partitions} is not more",
            target=target,
        )
    if p.partitions > ctx.config.actions.max_partitions:
        return Preview(
            [], refusal=f"{p.partitions} is above the allowed {ctx.config.actions.max_partitions}", target=target
        )
    return Preview(
        [
            f"topic {p.topic}: {current} -> {p.partitions} partitions (keys map to new partitions "
            "from now on; this cannot be undone)"
        ],
        {"partitions": current},
        {"partitions": p.partitions},
        target=target,
    )


@action(
    "add-partitions",
    summary="increase a topic's partitions (never decrease)",
    runbook="kafka-topics --alter --partitions N",
    risk=Risk.DISRUPTIVE,
    params=AddPartitionsParams,
    preview=preview_add_partitions,
    positional=("topic", "partitions"),
    verify="kafka-lag",
)
async def add_partitions(ctx: ActionContext, p: AddPartitionsParams, preview: Preview) -> Outcome:
    async with KafkaProbe(ctx.config.kafka_bootstrap, ctx.config.timeouts.probe_s) as kp:
        await kp.create_partitions(p.topic, p.partitions)
        # The broker applies the change through its metadata log: a describe right after the
        # call can still show the old count. Read again for a moment before judging.
        deadline = time.monotonic() + ctx.config.timeouts.probe_s
        while (after := (await kp.topics([p.topic]))[p.topic].partitions) < p.partitions:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
    return Outcome(
        after == p.partitions,
        f"{p.topic}: {preview.before['partitions']} -> {after} partitions",
        preview.before,
        {"partitions": after},
    )


# ---------------------------------------------------------------------- reset-offsets
class ResetOffsetsParams(ActionParams):
    group: KafkaName
    to: Literal["latest"] = "latest"


async def _group_offsets(
    ctx: ActionContext, group: str
) -> tuple[
    int, dict[TopicPartition, int], dict[TopicPartition, int], dict[TopicPartition, int], dict[TopicPartition, int]
]:
    """(members, committed, log-end, log-start offsets, unread offsets) of the group's committed
    partitions; unread: offsets past the committed one that no read_committed consumer is given
    (transaction markers, aborted records: commands.backends.kafka_control), which a reset does not skip."""
    async with KafkaProbe(ctx.config.kafka_bootstrap, ctx.config.timeouts.probe_s) as kp:
        snap = await kp.snapshot([group])
    g = snap.groups.get(group)
    if g is None:
        return 0, {}, {}, {}, {}
    ends = {tp: snap.end_offsets[tp] for tp in g.offsets if tp in snap.end_offsets}
    return g.members, g.offsets, ends, {tp: snap.start_offsets.get(tp, 0) for tp in ends}, dict(g.control)


async def preview_reset(ctx: ActionContext, p: ResetOffsetsParams) -> Preview:
    members, committed, ends, starts, unread = await _group_offsets(ctx, p.group)
    target = f"kafka/group/{p.group}"
    if not committed:
        return Preview([], refusal=f"group {p.group} has no committed offsets", target=target)
    if members:
        return Preview(
            [],
            refusal=f"group {p.group} has {members} active member(s): Kafka resets only an empty "
            "group. Stop its consumers first (scale the deployment to 0), then reset.",
            target=target,
        )
    items: list[dict[str, Any]] = [
        {
            "topic": tp.topic,
            "partition": tp.partition,
            "before": committed[tp],
            "after": ends[tp],
            # records below the log start are already gone (retention, DeleteRecords): not skipped by the reset
            # and markers or aborted records past the committed offset are never delivered: not skipped either
            "skipped": max(
                ends[tp] - max(committed[tp], starts[tp]) - (unread.get(tp, 0) if committed[tp] >= starts[tp] else 0),
                0,
            ),
            "deleted": max(min(starts[tp], ends[tp]) - committed[tp], 0),
        }
        for tp in sorted(ends)
    ]
    skipped, deleted = sum(i["skipped"] for i in items), sum(i["deleted"] for i in items)
    lines = [
        f"{i['topic']}[{i['partition']}]: {i['before']} -> {i['after']} (skips {i['skipped']}"
        + (f"; {i['deleted']} below the log start, already deleted" if i["deleted"] else "")
        + ")"
        for i in items
    ]
    gone = f" ({deleted} more below the log start were already deleted)" if deleted else ""
    return Preview(
        [f"reset {p.group} to latest: {skipped} message(s) will never be processed{gone}", *lines],
        items=items,
        target=target,
    )


@action(
    "reset-offsets",
    summary="move an empty group's offsets to the end (refuses a live group)",
    runbook="kafka-consumer-groups --reset-offsets --to-latest --execute",
    risk=Risk.DESTRUCTIVE,
    params=ResetOffsetsParams,
    preview=preview_reset,
    positional=("group",),
    verify="kafka-lag",
)
async def reset_offsets(ctx: ActionContext, p: ResetOffsetsParams, preview: Preview) -> Outcome:
    members, _, ends, _, _ = await _group_offsets(ctx, p.group)
    if members:  # a consumer came back since the preview
        return Outcome(False, f"refused: group {p.group} now has {members} active member(s)")
    try:
        await commit_offsets(ctx.config.kafka_bootstrap, p.group, ends, ctx.config.timeouts.probe_s)
    except BackendError as err:  # e.g. a member joined since: Kafka rejects commits from outside the group
        why = f"refused by Kafka: {err.reason}" if isinstance(err, BackendRefused) else str(err)
        return Outcome(False, f"{why}; group {p.group} is unchanged")
    after = {f"{tp.topic}[{tp.partition}]": end for tp, end in sorted(ends.items())}
    return Outcome(
        True,
        f"reset {p.group} to latest on {len(ends)} partition(s)",
        {f"{i['topic']}[{i['partition']}]": i["before"] for i in preview.items},
        after,
    )
