"""stream_call and StreamCancels without a broker: pieces pass through, a caller who leaves stops the
provider call, and a provider that breaks off mid-stream is never handed to a fallback."""

from __future__ import annotations

import asyncio

import pytest

from providers import ChatRequest, ChatResult, Message, ProviderUnavailable, StreamChunk, Usage
from streams.agents.streaming import DeltaRelay, StreamCancelled, StreamCancels, StreamInterrupted, stream_call

CALL = ChatRequest(model="m", messages=(Message("user", "say something long"),), request_id="r1")


class Provider:
    """A stream of `parts` pieces; then a result, or `fail_after` pieces then an error. Records whether it was closed."""

    def __init__(self, parts: int, *, fail_after: int | None = None, gate: asyncio.Event | None = None):
        self.parts, self.fail_after, self.gate = parts, fail_after, gate
        self.produced = 0
        self.closed = False

    async def chunks(self):  # noqa: ANN201 - an async generator
        try:
            for i in range(self.parts):
                if self.fail_after is not None and i == self.fail_after:
                    raise ProviderUnavailable("the provider went away", provider="openai")
                if self.gate is not None and i >= 3:
                    await self.gate.wait()  # hold the stream open after three pieces
                self.produced += 1
                yield StreamChunk(text=f"w{i} ")
            yield StreamChunk(result=ChatResult(content="".join(f"w{i} " for i in range(self.parts)),
                                                usage=Usage(input_tokens=7, output_tokens=self.parts),
                                                ttft_ms=1.0, total_ms=2.0))
        finally:
            self.closed = True


async def test_every_piece_is_relayed_in_order_and_the_providers_result_is_returned():
    provider, seen = Provider(5), []

    async def relay(chunk: StreamChunk) -> None:
        seen.append(chunk.text)

    result = await stream_call(provider.chunks(), CALL, asyncio.Event(), relay)
    assert seen == [f"w{i} " for i in range(5)]
    assert result.usage == Usage(input_tokens=7, output_tokens=5) and not result.usage_estimated


async def test_a_caller_who_leaves_stops_the_provider_call_and_what_it_produced_is_billed():
    gate, cancelled = asyncio.Event(), asyncio.Event()
    provider, seen = Provider(20, gate=gate), []

    async def relay(chunk: StreamChunk) -> None:
        seen.append(chunk.text)
        if len(seen) == 3:
            cancelled.set()

    with pytest.raises(StreamCancelled) as caught:
        await stream_call(provider.chunks(), CALL, cancelled, relay)
    assert provider.closed and provider.produced == 3, "the provider's stream is closed where the caller left"
    partial = caught.value.partial
    assert partial.content == "w0 w1 w2 " and partial.usage_estimated
    assert partial.usage.output_tokens > 0 and partial.usage.input_tokens > 0, "a cancelled stream is never free"
    assert caught.value.code == "client_cancelled"


async def test_a_provider_that_fails_after_the_first_piece_is_interrupted_not_retried():
    provider = Provider(10, fail_after=4)

    async def relay(chunk: StreamChunk) -> None:
        pass

    with pytest.raises(StreamInterrupted) as caught:
        await stream_call(provider.chunks(), CALL, asyncio.Event(), relay)
    assert not caught.value.retryable, "a second model's text must not be spliced onto the first's"
    assert caught.value.partial.content == "w0 w1 w2 w3 " and "4 streamed pieces" in caught.value.message


async def test_a_provider_that_fails_before_any_piece_raises_its_own_error_so_fallbacks_apply():
    with pytest.raises(ProviderUnavailable):
        await stream_call(Provider(10, fail_after=0).chunks(), CALL, asyncio.Event(), lambda text: asyncio.sleep(0))


async def test_a_cancel_heard_before_the_request_is_served_still_stops_it_and_expires_later():
    now = [0.0]
    cancels = StreamCancels(monotonic=lambda: now[0])
    cancels.cancel("early")
    assert cancels.watch("early").is_set()
    cancels.cancel("stale")
    now[0] = 10_000.0
    cancels.cancel("other")  # pruning happens as cancels arrive
    assert not cancels.watch("stale").is_set(), "an early cancel is forgotten after its TTL"
    watched = cancels.watch("live")
    cancels.cancel("live")
    assert watched.is_set()


async def test_the_relay_numbers_pieces_and_a_failed_send_loses_one_piece_not_the_call():
    sent: list[tuple[str, bytes, bytes]] = []

    async def send(topic: str, key: bytes, value: bytes) -> asyncio.Future:
        if len(sent) == 1 and not any(b"lost" in v for _, _, v in sent):
            sent.append((topic, key, b"lost"))
            raise ConnectionError("broker gone for a moment")
        sent.append((topic, key, value))
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    relay = DeltaRelay(send, topic="replies", request_id="r1")
    for text in ("a", "b", "c"):
        await relay.relay(StreamChunk(text=text), model="m", provider="openai")
    await relay.flush()
    delivered = [v for _, _, v in sent if v != b"lost"]
    assert [b'"index":0' in delivered[0], b'"index":2' in delivered[1]] == [True, True]
    assert relay.pieces == 3 and relay.first_at is not None
    assert all(t == "replies" and k == b"r1" for t, k, _ in sent)
