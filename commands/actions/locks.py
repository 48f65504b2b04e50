"""Per-target locks in Redis: two actions never touch the same target at once.

redis-py's `redis.asyncio.lock.Lock` (SET NX PX to take, a compare-and-delete script to release),
as the kafka-lag sampler's lease (commands/checks/kafka_lag/history.py); the lock's token is the
owner (`user#request`), so who holds a target can be said. Errors: `BackendError` (Redis down or
slow past the probe timeout), from `commands.backends.redis.connect`.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from commands.backends import redis
from commands.config import ChecksConfig

PREFIX = "alp:lock:"


class TargetLock:
    """The lock of one target (`alp:lock:<target>`), held for at most `actions.lock_ttl_s` seconds."""

    def __init__(self, cfg: ChecksConfig, target: str, owner: str) -> None:
        self.cfg, self.key, self.owner = cfg, PREFIX + target, owner

    def _lock(self, client: Redis) -> Lock:
        return Lock(client, self.key, timeout=self.cfg.actions.lock_ttl_s, blocking=False)

    async def acquire(self) -> str | None:
        """Take the lock; None on success, else who holds it."""
        async with redis.connect(self.cfg.redis_url, self.cfg.timeouts.probe_s) as client:
            if await self._lock(client).acquire(token=self.owner):
                return None
            return str(await client.get(self.key) or "someone")

    async def release(self) -> None:
        """Delete the lock if it is still ours (expired, or taken by someone else since: left alone)."""
        async with redis.connect(self.cfg.redis_url, self.cfg.timeouts.probe_s) as client:
            try:
                await self._lock(client).do_release(self.owner.encode())
            except LockError:
                pass
