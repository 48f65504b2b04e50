"""Per-target locks in Redis: two actions never touch the same target at once."""

from __future__ import annotations

from commands.backends import redis
from commands.config import ChecksConfig

PREFIX = "alp:lock:"


class TargetLock:
    def __init__(self, cfg: ChecksConfig, target: str, owner: str) -> None:
        self.cfg, self.key, self.owner = cfg, PREFIX + target, owner

    async def acquire(self) -> str | None:
        """Take the lock; None on success, else who holds it."""
        async with redis.connect(self.cfg.redis_url, self.cfg.timeouts.probe_s) as client:
            if await client.set(self.key, self.owner, nx=True, ex=int(self.cfg.actions.lock_ttl_s)):
                return None
            return str(await client.get(self.key) or "someone")

    async def release(self) -> None:
        """Delete the lock if it is still ours (compare and delete)."""
        async with redis.connect(self.cfg.redis_url, self.cfg.timeouts.probe_s) as client:
            await client.eval(
                "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0",
                1,
                self.key,
                self.owner,
            )
