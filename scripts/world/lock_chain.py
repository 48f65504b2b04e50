"""The demo's PostgreSQL faults (scripts/world/demo.py): pg_stat_statements from zero, and a
lock chain on `user_progress`: one transaction holding a row, two statements waiting behind it,
held by a background process (`python -m scripts.world.lock_chain SECONDS`, DSN from
ALP_POSTGRES_DSN) whose backends are named LOCK_APP.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import psycopg

LOCK_APP = "alp-demo"  # application_name of the demo's lock-chain backends
LOCK_HOLD_S = 300
LOCK_TABLE = "user_progress"


def reset_statements(dsn: str) -> None:
    """pg_stat_statements from zero, so db-load and auth-latency show the demo's statements, not
    what earlier runs (tests, benchmarks) left."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")


def clear_lock_chain(dsn: str) -> int:
    """End the demo's lock chain (its backends are named LOCK_APP); how many backends it ended."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (LOCK_APP,)
        ).fetchall()
    return len(rows)


def seed_lock_chain(dsn: str, run_dir: Path) -> None:
    """A transaction holding a row of user_progress, two updates waiting behind it (LOCK_HOLD_S)."""
    clear_lock_chain(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {LOCK_TABLE} (user_id int PRIMARY KEY, item int, attempts int, updated_at timestamptz)"
        )
        conn.execute(
            f"INSERT INTO {LOCK_TABLE} SELECT g, 42, 0, now() FROM generate_series(1, 100) g ON CONFLICT DO NOTHING"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "lock-chain.log", "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "scripts.world.lock_chain", str(LOCK_HOLD_S)],
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "ALP_POSTGRES_DSN": dsn},  # not on the command line, where `ps` shows it
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives `scripts/testbed demo`
        )
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(100):
            waiting = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND cardinality(pg_blocking_pids(pid)) > 0",
                (LOCK_APP,),
            ).fetchone()
            if waiting and waiting[0] >= 2:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"the lock chain did not form (see {run_dir / 'lock-chain.log'})")


def hold_locks(dsn: str, seconds: float) -> None:
    """The lock chain's process: hold, let two others wait, let go after `seconds`."""
    import threading

    kw = {"autocommit": True, "application_name": LOCK_APP}
    holder = psycopg.connect(dsn, **kw)  # type: ignore[arg-type]
    holder.execute("BEGIN")
    holder.execute(f"UPDATE {LOCK_TABLE} SET attempts = attempts + 1, updated_at = now() WHERE user_id = 42")

    def wait(query: str) -> None:
        try:
            with psycopg.connect(dsn, **kw) as conn:  # type: ignore[arg-type]
                conn.execute(f"SET statement_timeout = '{int(seconds) + 30}s'")
                conn.execute(query)
        except psycopg.Error:
            pass

    for query in (
        f"UPDATE {LOCK_TABLE} SET item = 43, updated_at = now() WHERE user_id = 42 /* progress update */",
        f"SELECT * FROM {LOCK_TABLE} WHERE user_id = 42 FOR UPDATE /* scheduler: load progress */",
    ):
        threading.Thread(target=wait, args=(query,), daemon=True).start()
        time.sleep(0.3)
    # The holder stays "idle in transaction" with its UPDATE as last query. The server speaks on
    # this connection only to end it (clear_lock_chain, a re-run of the demo, the tests, or the
    # test bed going down): then this process ends too.
    ended, _, _ = select.select([holder.pgconn.socket], [], [], seconds)
    try:
        if not ended:
            holder.execute("ROLLBACK")
        holder.close()
    except psycopg.Error:
        pass


if __name__ == "__main__":
    hold_locks(os.environ["ALP_POSTGRES_DSN"], float(sys.argv[1]))
