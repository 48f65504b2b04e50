"""Carrying out the side effects incidents' state changes owe (`escalation.state.effects`): the
announcement and the recovery checklist. The process that made the change carries them out at
once; whoever leads carries out what is still pending (its maker died, Slack or the store failed).

An attempt that follows another first looks for what the earlier one may have done before it
died (the announcement in the channel), so a retry completes the work instead of repeating it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from escalation.config import EscalationSettings
from escalation.ladder.notify import Notifier
from escalation.model import Incident
from escalation.state.db import now
from escalation.state.effects import Effect, Effects, Kind
from escalation.state.store import Store

log = logging.getLogger(__name__)


class OwedEffects:
    def __init__(
        self,
        store: Store,
        cfg: EscalationSettings,
        notifier: Notifier,
        refresh: Callable[[Incident], Awaitable[None]],
    ) -> None:
        self.store, self.cfg, self.notifier, self.refresh = store, cfg, notifier, refresh
        self.effects = Effects(store.engine)

    @property
    def lease_s(self) -> float:
        return 2 * self.cfg.page_attempt_timeout_s

    async def carry_out_due(self, leading: Callable[[], bool]) -> None:
        """Every pending effect that is due (for the leader's reconciler)."""
        for incident_id, kind in await self.effects.due(now()):
            if leading():
                await self.carry_out(incident_id, kind)

    async def carry_out(self, incident_id: int, kind: Kind, held: Effect | None = None) -> bool:
        """One attempt at the incident's owed `kind` (`held`: the attempt the change's transaction
        gave its maker); True when it is done (now or before)."""
        effect = held or await self.effects.claim(incident_id, kind, self.lease_s)
        if effect is None:
            return kind not in await self.effects.pending(incident_id)
        try:
            inc = await self.store.get(incident_id)
            done = inc is None or await self._do(effect, inc)
        except Exception as err:
            error = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            log.warning("%s of incident %s failed (attempt %s): %s", kind, incident_id, effect.attempt, error)
            await self._failed(effect, error)
            return False
        if done:
            await self.effects.done(effect)
        else:
            await self._failed(effect, "this process cannot do it (the bot will)", retry_in_s=0)
        return done

    async def _failed(self, effect: Effect, error: str, retry_in_s: float | None = None) -> None:
        if retry_in_s is None:
            retry_in_s = min(self.cfg.page_backoff_max_s, self.cfg.page_backoff_s * 2 ** (effect.attempt - 1))
        try:
            await self.effects.failed(effect, error, retry_in_s)
        except Exception as err:  # the store is away: the claim's lease expires and the leader retries
            log.warning("recording a failed %s of incident %s: %s", effect.kind, effect.incident_id, err)

    async def _do(self, effect: Effect, inc: Incident) -> bool:
        if effect.kind is Kind.ANNOUNCE:
            return await self._announce(effect, inc)
        await self.refresh(inc)
        await self.notifier.checklist(inc)
        return True

    async def _announce(self, effect: Effect, inc: Incident) -> bool:
        if inc.message_ts:
            return True  # an earlier attempt posted it and recorded where
        where = await self.notifier.find_announcement(inc) if effect.attempt > 1 else None
        if where is None:
            where = await self.notifier.announce(inc)
        if where is None:
            return False  # this notifier cannot announce (the terminal): the bot's leader will
        new = await self.store.set_message(inc.id, where[1], where[0])
        if new is not None and new.version != inc.version:  # acked, paged... while it was being posted
            await self.refresh(new)
        return True
