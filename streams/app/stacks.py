"""Where a process waits: every thread's stack and every asyncio task's chain of awaits, as text.

For `kill -USR1 <worker pid>` (streams/app/worker.py). Frames only, never local variables: mode's own
dump prints those, and a provider call's locals may hold its key.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import traceback
from collections.abc import Iterator
from types import FrameType
from typing import IO

__all__ = ["dump_stacks", "awaiting"]


def dump_stacks(file: IO[str], loop: asyncio.AbstractEventLoop) -> None:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    for ident, frame in sys._current_frames().items():
        print(f"THREAD {names.get(ident, ident)}", file=file)
        traceback.print_stack(frame, file=file)
    tasks = asyncio.all_tasks(loop)
    print(f"TASKS ({len(tasks)})", file=file)
    for task in tasks:
        chain = " <- ".join(_where(frame) for frame in reversed(list(awaiting(task))))
        print(f"TASK {task.get_name()}: {chain}", file=file)
    file.flush()


def awaiting(task: asyncio.Task, *, depth: int = 64) -> Iterator[FrameType]:
    """The frames of a task's coroutine and of each coroutine or generator it awaits, outermost first."""
    awaited: object = task.get_coro()
    for _ in range(depth):
        frame = _frame_of(awaited)
        if frame is None:
            # A coroutine's __await__ wrapper and an async generator's asend() hide what they run
            # from Python, but hand it to the garbage collector.
            awaited = next((inner for inner in gc.get_referents(awaited) if _frame_of(inner) is not None), None)
            if awaited is None:
                return
            continue
        yield frame
        awaited = next((getattr(awaited, name) for name in ("cr_await", "ag_await", "gi_yieldfrom")
                        if getattr(awaited, name, None) is not None), None)
        if awaited is None:
            return


def _frame_of(awaited: object) -> FrameType | None:
    return next((getattr(awaited, name) for name in ("cr_frame", "ag_frame", "gi_frame")
                 if getattr(awaited, name, None) is not None), None)


def _where(frame: FrameType) -> str:
    return f"{frame.f_code.co_qualname}({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})"
