"""Adapter overhead per call, in microseconds: a benchmark, not a test.

Each family's adapter calls an in-process httpx.MockTransport that answers with canned bytes
in that family's format (taken from the test ProviderServer), so no network or server time is
counted. The baseline is a bare client.post + response.json() on the same client; the
difference is what our adapter adds (building the body, parsing, usage, error checks).

    .venv/bin/python -m tests.benchmarks.adapter_overhead [--calls 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from providers import ChatRequest, Message
from tests.integration.wire_helpers import FAMILIES, MODEL, adapter
from tests.support.provider_server import ProviderServer

REQUEST = dict(messages=(Message("system", "be brief"), Message("user", "Hello World, how are you?")), max_tokens=50)


def canned(family: str, stream: bool) -> tuple[dict, bytes]:
    server = ProviderServer()
    path = {"openai": "/v1/chat/completions", "local": "/v1/chat/completions", "anthropic": "/v1/messages",
            "google": f"/v1beta/models/{MODEL['google']}:generateContent", "cohere": "/v2/chat"}[family]
    body = {"model": MODEL[family], "messages": [{"role": "user", "content": "Hello World"}], "stream": stream}
    status, headers, payload = server.respond("POST", path, body, "Bearer k")
    server._httpd.server_close()
    return headers, payload if isinstance(payload, bytes) else b"".join(payload)


async def per_call_us(fn, calls: int) -> float:  # noqa: ANN001
    for _ in range(200):
        await fn()
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls // 5):
            await fn()
        samples.append((time.perf_counter() - started) / (calls // 5) * 1e6)
    return statistics.median(samples)


async def main(calls: int) -> None:
    print(f"{'family':<10} {'mode':<7} {'adapter µs':>11} {'baseline µs':>12} {'overhead µs':>12}")
    for family in FAMILIES:
        for stream in (False, True):
            headers, payload = canned(family, stream)
            transport = httpx.MockTransport(lambda request, h=headers, p=payload: httpx.Response(200, headers=h, content=p))
            async with httpx.AsyncClient(transport=transport) as client:
                provider = adapter(family, client, "http://bench")
                request = ChatRequest(model=MODEL[family], **REQUEST)

                async def ours() -> None:
                    if stream:
                        async for _ in provider.infer_stream(request):
                            pass
                    else:
                        await provider.infer(request)

                async def bare() -> None:
                    response = await client.post("http://bench/x", json={"model": MODEL[family]})
                    if stream:
                        async for _ in response.aiter_lines():
                            pass
                    else:
                        response.json()

                mine, base = await per_call_us(ours, calls), await per_call_us(bare, calls)
            print(f"{family:<10} {'stream' if stream else 'plain':<7} {mine:>11.1f} {base:>12.1f} {mine - base:>12.1f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    asyncio.run(main(parser.parse_args().calls))
