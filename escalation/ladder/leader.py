"""Exactly one process runs the escalation reconciler: the holder of an expiring lease.

The lease is a row in the state store (`alp_leases`): the holder renews it every `leader_poll_s`;
when it stops renewing (dead, paused, cut off from the database) it expires after `leader_lease_s`
and any other replica takes it. The holder trusts its lease only until `leader_lease_s` after the
moment it sent its last successful renewal, minus a safety margin, measured on its own monotonic
clock, so a process paused for longer than that does nothing on waking until it has renewed.
Times in the row are UTC from the replicas' clocks (kept in sync, as NTP does, well within the lease).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta

import sqlalchemy as sa

from escalation.state.db import Database, now
from escalation.state.schema import leases

log = logging.getLogger(__name__)

NAME = "escalation"


class Lease:
    def __init__(self, db: Database, ttl_s: float, holder: str | None = None) -> None:
        self.engine = db.engine
        self.ttl_s = ttl_s
        self.holder = holder or f"{socket.gethostname()}-{os.getpid()}"
        self._valid_until = 0.0  # monotonic

    @property
    def held(self) -> bool:
        """True while this process may act as the leader."""
        return time.monotonic() < self._valid_until

    async def acquire(self) -> bool:
        """Take or renew the lease; True if this process holds it now."""
        started = time.monotonic()
        at = now()
        expires = at + timedelta(seconds=self.ttl_s)
        try:
            async with self.engine.begin() as conn:
                res = await conn.execute(
                    leases.update()
                    .where(leases.c.name == NAME, sa.or_(leases.c.holder == self.holder, leases.c.expires_at < at))
                    .values(
                        expires_at=expires,
                        epoch=sa.case((leases.c.holder == self.holder, leases.c.epoch), else_=leases.c.epoch + 1),
                        holder=self.holder,
                    )
                )
                won = res.rowcount == 1
                if (
                    not won
                    and (await conn.execute(sa.select(leases.c.name).where(leases.c.name == NAME))).first() is None
                ):
                    await conn.execute(
                        leases.insert().values(name=NAME, holder=self.holder, expires_at=expires, epoch=1)
                    )
                    won = True
        except sa.exc.SQLAlchemyError as err:  # a replica racing to insert the first row, or no database
            log.warning("leader election: %s", str(err).splitlines()[0])
            won = False
        # trust it a little less long than the row says: the renewal may have taken time to land
        self._valid_until = started + self.ttl_s * 0.8 if won else 0.0
        return won

    async def release(self) -> None:
        """Give the lease up at once (a clean stop), so a standby need not wait for it to expire."""
        self._valid_until = 0.0
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    leases.update()
                    .where(leases.c.name == NAME, leases.c.holder == self.holder)
                    .values(expires_at=now() - timedelta(seconds=1))
                )
        except sa.exc.SQLAlchemyError as err:
            log.warning("releasing the leader lease: %s", str(err).splitlines()[0])

    async def current_holder(self) -> str | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(leases.c.holder).where(leases.c.name == NAME, leases.c.expires_at >= now())
                )
            ).first()
        return str(row[0]) if row else None
