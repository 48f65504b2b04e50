"""What the bot's PostgreSQL role may see of other roles' activity, checked before judging it.

PostgreSQL shows a role only its own backends' state and query and its own statements' text
in pg_stat_activity and pg_stat_statements; everything else reads NULL or "<insufficient
privilege>" unless the role is a superuser or has the privileges of `pg_read_all_stats`
(`pg_monitor` includes it). "Nothing seen" under such a role is not "nothing there": a check
says UNKNOWN and names the missing grant instead of OK.
(Source: PostgreSQL docs, "The Cumulative Statistics System", pg_stat_activity visibility.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from commands.backends.postgres import query

if TYPE_CHECKING:
    from commands.backends.postgres import Connection as Conn  # statements bounded per transaction


GRANT = "pg_read_all_stats"
HIDDEN = "<insufficient privilege>"  # what PostgreSQL shows instead of another role's query text


async def stats_blind_spot(conn: Conn) -> str | None:
    """None when the connected role sees every backend and statement; else a sentence naming the
    role and the missing grant (and how to give it)."""
    rows = await query(
        conn,
        """SELECT current_user AS role, r.rolsuper AS superuser,
                  pg_has_role(current_user, %s, 'USAGE') AS granted
           FROM pg_roles r WHERE r.rolname = current_user""",
        GRANT,
    )
    if not rows or rows[0]["superuser"] or rows[0]["granted"]:
        return None
    role = rows[0]["role"]
    return (
        f"role {role} lacks {GRANT}: other roles' backends and statements are hidden from it "
        f"(GRANT {GRANT} TO {role}; pg_monitor includes it)"
    )
