"""streams/app/stacks.py: where each task waits, frames only."""

from __future__ import annotations

import asyncio
import io

from streams.app.stacks import dump_stacks

SECRET = "sk-sentinel-never-dumped"


async def innermost(gate: asyncio.Event) -> None:
    await gate.wait()


async def outer(gate: asyncio.Event, api_key: str) -> None:
    assert api_key
    await innermost(gate)


async def test_each_task_shows_its_chain_of_awaits_and_no_local_values():
    gate = asyncio.Event()
    task = asyncio.create_task(outer(gate, SECRET), name="the-waiter")
    await asyncio.sleep(0)
    out = io.StringIO()
    try:
        dump_stacks(out, asyncio.get_running_loop())
    finally:
        gate.set()
        await task
    text = out.getvalue()
    line = next(line for line in text.splitlines() if line.startswith("TASK the-waiter:"))
    assert line.index("Event.wait(locks.py:") < line.index("innermost(test_stacks.py:") < line.index("outer(")
    assert "THREAD MainThread" in text
    assert SECRET not in text
