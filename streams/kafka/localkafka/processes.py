"""Child processes: started so they die with their parent, stopped the same way everywhere."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys

__all__ = ["terminate", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For Popen(preexec_fn=...): the kernel kills the child when its parent dies, even by kill -9, so a
    crashed `hugai-llm dev` leaves no worker, sink or broker behind. SIGKILL, not SIGTERM: with the broker
    going down at the same moment, a Faust worker's graceful shutdown was seen to wait forever. Nothing is
    lost by it: uncommitted offsets are read again and the sink skips rows it already has.
    The "parent" is the thread that started the child: one started from a short-lived thread
    (asyncio.to_thread) dies when that thread ends. Linux only; a no-op elsewhere."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def terminate(process: subprocess.Popen | None, *, timeout: float) -> bool:
    """Stop `process`; True if it exited on SIGTERM, False if it had to be killed."""
    if process is None or process.poll() is not None:
        return True
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return False
