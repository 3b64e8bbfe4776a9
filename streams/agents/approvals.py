"""Human control over critical decisions: an approval queue on llm.approvals.

A request of a critical task type whose estimated cost reaches the threshold is announced
(ApprovalRequested) and waits until an operator's ApprovalDecided arrives, or the timeout
rejects it (and that decision is published too, so the queue shows it as closed).

While it waits it holds one of the agent's concurrent slots, and its offset is not committed:
a worker that dies meanwhile leaves it to be redelivered, and a decision already on the
(compacted) topic is found at once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta

from streams.config import HumanOversight
from streams.events import ApprovalDecided, ApprovalRequested, LLMRequest, utcnow

__all__ = ["ApprovalGate"]

Publish = Callable[[str, ApprovalRequested | ApprovalDecided], Awaitable[None]]


class ApprovalGate:
    REMEMBERED = 10_000  # decisions kept for requests that may still arrive (redelivery after a crash)

    def __init__(self, oversight: HumanOversight, publish: Publish):
        self._oversight = oversight
        self._publish = publish
        self._waiting: dict[str, asyncio.Future[ApprovalDecided]] = {}
        self._decided: OrderedDict[str, ApprovalDecided] = OrderedDict()

    def needed(self, task_type: str, estimated_cost: float) -> bool:
        oversight = self._oversight
        return task_type in oversight.critical_task_types and estimated_cost >= float(oversight.approval_cost_threshold)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def wait(self, request: LLMRequest, *, model: str, estimated_cost: float, tenant: str) -> ApprovalDecided:
        if request.request_id in self._decided:
            return self._decided[request.request_id]
        timeout = self._oversight.approval_timeout
        future = self._waiting.setdefault(request.request_id, asyncio.get_running_loop().create_future())
        await self._publish(request.request_id, ApprovalRequested(
            request_id=request.request_id, task_type=request.task_type, model=model,
            estimated_cost_usd=estimated_cost, tenant=tenant, expires_at=utcnow() + timeout))
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout.total_seconds())
        except asyncio.TimeoutError:
            decision = ApprovalDecided(event_id=uuid.uuid4().hex, request_id=request.request_id, approved=False,
                                       actor="timeout", reason=f"no operator decision within {_human(timeout)}")
            self.apply(decision)
            await self._publish(request.request_id, decision)
            return decision
        finally:
            self._waiting.pop(request.request_id, None)

    def apply(self, decision: ApprovalDecided) -> None:
        """A decision read from llm.approvals (ours or an operator's). The first one for a request stands."""
        if decision.request_id in self._decided:
            return
        self._decided[decision.request_id] = decision
        while len(self._decided) > self.REMEMBERED:
            self._decided.popitem(last=False)
        future = self._waiting.get(decision.request_id)
        if future is not None and not future.done():
            future.set_result(decision)


def _human(span: timedelta) -> str:
    seconds = span.total_seconds()
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"
