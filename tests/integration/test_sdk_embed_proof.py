"""The official SDKs keep our embeddings calls honest, as tests/integration/test_sdk_proof.py does for chat.

For each family with an embeddings API, the SDK and our adapter embed the same texts against the
local server: both must send the same body (so ours is what the real API accepts), and the SDK
must read the server's answer into the same vectors our adapter read (so the server speaks the
real format).
"""

from __future__ import annotations

import cohere
import openai
from google import genai
from google.genai import types as gtypes

from providers import make_client
from tests.integration.wire_helpers import KEY, adapter, camel
from tests.support.provider_server import ProviderServer

TEXTS = ["the first text to embed", "a second, longer text to embed"]
DIMENSIONS = 4


async def _ours(family: str, server: ProviderServer, model: str):  # noqa: ANN202
    async with make_client() as client:
        return await adapter(family, client, server.root).embed(TEXTS, model=model, dimensions=DIMENSIONS)


async def test_openai_sdk_sends_our_embeddings_body_and_reads_the_vectors():
    with ProviderServer() as server:
        ours = await _ours("openai", server, "text-embedding-3-small")
        sdk = openai.AsyncOpenAI(api_key=KEY, base_url=server.root + "/v1")
        answer = await sdk.embeddings.create(model="text-embedding-3-small", input=TEXTS, dimensions=DIMENSIONS,
                                             encoding_format="float")
    assert server.calls[0] == server.calls[1]
    assert ours.vectors == [item.embedding for item in answer.data]
    assert len(ours.vectors[0]) == DIMENSIONS and ours.usage.input_tokens == answer.usage.prompt_tokens > 0


async def test_cohere_sdk_sends_our_embed_body_and_reads_the_vectors():
    with ProviderServer() as server:
        ours = await _ours("cohere", server, "embed-v4.0")
        sdk = cohere.AsyncClientV2(api_key=KEY, base_url=server.root)
        answer = await sdk.embed(model="embed-v4.0", texts=TEXTS, input_type="search_document",
                                 embedding_types=["float"], output_dimension=DIMENSIONS)
    assert server.calls[0] == server.calls[1]
    assert ours.vectors == answer.embeddings.float_
    assert ours.usage.input_tokens == answer.meta.billed_units.input_tokens > 0


async def test_google_genai_sdk_sends_our_batch_embed_body_and_reads_the_vectors():
    with ProviderServer() as server:
        ours = await _ours("google", server, "gemini-embedding-001")
        sdk = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=server.root, api_version="v1beta"))
        answer = await sdk.aio.models.embed_content(
            model="gemini-embedding-001", contents=TEXTS,
            config=gtypes.EmbedContentConfig(output_dimensionality=DIMENSIONS))
    ours_body, sdk_body = (camel(body) for body in server.calls)
    assert ours_body == sdk_body
    assert ours.vectors == [e.values for e in answer.embeddings]
    assert ours.usage_estimated, "Gemini reports no tokens for embeddings: ours are counted from the text"
