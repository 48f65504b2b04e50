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


def test_a_slot_held_by_a_loop_that_ended_is_not_held_for_ever() -> None:
    """A run whose event loop closed without releasing its slot (a test's loop, torn down with the
    run pending) does not keep later runs, in the next loop, waiting."""
    slots = CheckSlots()

    async def leave_one_held() -> None:
        slots.take(1)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(leave_one_held())
    loop.close()

    async def next_run() -> int:
        ticket = slots.take(1)
        await asyncio.wait_for(ticket.wait(), 1)
        ticket.release()
        return slots.running

    assert asyncio.run(next_run()) == 0
