"""Carrying out the side effects incidents' state changes owe (`escalation.state.effects`): the
announcement, the recovery checklist, the message's update, a line in the thread. The process that
made the change carries them out at once; whoever leads carries out what is still pending (its
maker died, Slack or the store failed).

An attempt that follows another first looks for what the earlier one may have done before it
died (the announcement in the channel, the line in the thread), so a retry completes the work
instead of repeating it; an update shows the newest state, so doing it again is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from escalation.config import EscalationSettings
from escalation.ladder.notify import Notifier
from escalation.model import Incident
from escalation.state.db import now
from escalation.state.effects import Effect, Effects, Kind, changed
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

    @property
    def announcement_wait_s(self) -> float:
        """How long a page waits for its incident's announcement (`announced`): an attempt's lease
        (a dead holder's claim runs out) plus one attempt, so a page is late, never lost."""
        return self.lease_s + self.cfg.page_attempt_timeout_s

    async def announced(self, inc: Incident) -> Incident:
        """`inc` once its owed announcement is posted and recorded, for a page that belongs in its
        thread; as it stands after `announcement_wait_s` seconds if it is still owed (the page then
        goes to the channel and says why). Meanwhile: a message an attempt posted before its process
        died is looked for in the channel (found: recorded at once, whoever holds the claim), and
        the announcement is carried out here as soon as it is due and no live attempt holds it."""
        loop = asyncio.get_running_loop()
        end = loop.time() + self.announcement_wait_s
        while not inc.message_ts and (Kind.ANNOUNCE, "") in await self.effects.pending(inc.id):
            found = await self._find(inc)
            if found is not None:
                return await self.store.set_message(inc.id, found[1], found[0]) or inc
            if (inc.id, Kind.ANNOUNCE, "") in await self.effects.due(now()):
                await self.carry_out(inc.id, Kind.ANNOUNCE)
            inc = await self.store.get(inc.id) or inc
            left = end - loop.time()
            if inc.message_ts or left <= 0:
                break
            await asyncio.sleep(min(0.5, left))
        return inc

    async def _find(self, inc: Incident) -> tuple[str, str] | None:
        if getattr(self.notifier, "leaves_slack_to_the_bot", False):
            return None
        try:
            return await self.notifier.find_announcement(inc)
        except Exception as err:  # Slack away: the wait goes on, bounded
            log.warning("looking for the announcement of %s: %s", inc.ref, err)
            return None

    async def carry_out_due(self, leading: Callable[[], bool]) -> None:
        """Every pending effect that is due (for the leader's reconciler)."""
        for incident_id, kind, occasion in await self.effects.due(now()):
            if leading():
                await self.carry_out(incident_id, kind, occasion=occasion)

    async def carry_out_change(self, inc: Incident, said: str | None = None) -> None:
        """What the change that made `inc` owes and its maker holds: the message's update, then
        the line `said` in the thread (when the change owed one)."""
        occasion = changed(inc.version)
        await self.carry_out(inc.id, Kind.UPDATE, Effect(inc.id, Kind.UPDATE, 1, occasion))
        if said is not None:
            await self.carry_out(inc.id, Kind.SAY, Effect(inc.id, Kind.SAY, 1, occasion, said))

    async def carry_out(self, incident_id: int, kind: Kind, held: Effect | None = None, occasion: str = "") -> bool:
        """One attempt at the incident's `kind` owed on `occasion` (`held`: the attempt the
        change's transaction gave its maker); True when it is done (now or before)."""
        effect = held or await self.effects.claim(incident_id, kind, self.lease_s, occasion)
        if effect is None:
            return (kind, occasion) not in await self.effects.pending(incident_id)
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
        if getattr(self.notifier, "leaves_slack_to_the_bot", False):
            return False  # the terminal: the bot's leader posts it
        if effect.kind is Kind.CHECKLIST:
            with contextlib.suppress(Exception):  # the update is owed on its own
                await self.refresh(inc)
            await self.notifier.checklist(inc)
            return True
        if not inc.message_ts and Kind.ANNOUNCE in [k for k, _ in await self.effects.pending(inc.id)]:
            raise RuntimeError("its announcement is not posted yet")  # retried after a back-off
        if effect.kind is Kind.UPDATE:
            await self.refresh(inc)  # the newest state, whichever change's attempt renders it
            return True
        text = effect.text or ""
        if effect.attempt > 1 and await self.notifier.already_said(inc, text):
            return True  # an earlier attempt posted it before its process died
        await self.notifier.say(inc, text)
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
            with contextlib.suppress(Exception):  # each change's own update is owed too
                await self.refresh(new)
        return True
