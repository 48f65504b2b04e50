"""commands/check_slots.py: at most the bound run at once, the rest in arrival order, and a run that
gives up waiting (a re-check before a page has its own bound) leaves the line without taking a slot."""

from __future__ import annotations

import asyncio

from commands.check_slots import CheckSlots


async def test_runs_beyond_the_bound_wait_in_arrival_order_and_a_cancelled_wait_leaves_the_line() -> None:
    slots = CheckSlots()
    started: list[int] = []
    gates = {i: asyncio.Event() for i in range(5)}

    async def run(i: int) -> None:
        ticket = slots.take(2)
        await ticket.wait()
        started.append(i)
        try:
            await gates[i].wait()
        finally:
            ticket.release()

    tasks = {i: asyncio.create_task(run(i)) for i in range(5)}
    await asyncio.sleep(0)
    assert started == [0, 1] and slots.running == 2 and slots.queued == 3
    tasks[2].cancel()  # gave up waiting: out of the line, no slot taken
    await asyncio.sleep(0)
    assert slots.queued == 2 and slots.running == 2
    gates[0].set()
    await asyncio.sleep(0.01)
    assert started == [0, 1, 3] and slots.running == 2 and slots.queued == 1
    for i in (1, 3, 4):
        gates[i].set()
    await asyncio.gather(*(tasks[i] for i in (0, 1, 3, 4)))
    assert started == [0, 1, 3, 4] and slots.running == 0 and slots.queued == 0 and slots.most == 2


async def test_a_place_counts_from_the_first_in_line() -> None:
    slots = CheckSlots()
    first, second, third = slots.take(1), slots.take(1), slots.take(1)
    assert (first.place, second.place, third.place) == (0, 1, 2)
    first.release()
    assert (second.place, third.place) == (0, 1)
    second.release()
    third.release()
    assert slots.running == 0
