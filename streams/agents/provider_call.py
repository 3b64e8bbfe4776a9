"""An LLMRequest as the provider interface takes it (providers.types), and a provider's result as the
answer's fields. The one place the event contract meets the provider types."""

from __future__ import annotations

from providers import ChatRequest, ChatResult, Usage
from providers import types as p
from streams.agents.provider_directory import Route
from streams.events import ChatMessage, LLMRequest, TokenUsage, ToolCall

__all__ = ["chat_request", "answer_tool_calls", "token_usage", "embed"]


def _message(message: ChatMessage) -> p.Message:
    content: str | tuple[p.Part, ...]
    if message.content is None or isinstance(message.content, str):
        content = message.content or ""
    else:
        content = tuple(p.TextPart(part.text) if part.type == "text" else p.ImagePart(part.url, part.detail)
                        for part in message.content)
    calls = tuple(p.ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in message.tool_calls)
    return p.Message(message.role, content, calls, message.tool_call_id)


def _tool_choice(request: LLMRequest) -> p.ToolChoice | None:
    choice = request.tool_choice
    if choice is None:
        return None
    if isinstance(choice, str):
        return p.ToolChoice(choice)
    return p.ToolChoice("function", choice.name)


def chat_request(request: LLMRequest, api_model: str) -> ChatRequest:
    fmt = request.response_format
    return ChatRequest(
        model=api_model,
        messages=tuple(_message(m) for m in request.chat_messages()),
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        stop=tuple(request.stop),
        seed=request.seed,
        tools=tuple(p.Tool(t.name, t.description, t.parameters, t.strict) for t in request.tools),
        tool_choice=_tool_choice(request),
        parallel_tool_calls=request.parallel_tool_calls,
        response_format=p.ResponseFormat(fmt.type, fmt.name, fmt.schema_, fmt.strict) if fmt else None,
        request_id=request.request_id,
    )


def answer_tool_calls(result: ChatResult) -> list[ToolCall]:
    return [ToolCall(id=c.id, name=c.name, arguments=c.arguments) for c in result.tool_calls]


def token_usage(usage: Usage) -> TokenUsage:
    """Every billed field of a provider's usage, for the answer."""
    return TokenUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                      cached_input_tokens=usage.cached_input_tokens, cache_write_tokens=usage.cache_write_tokens,
                      cache_write_1h_tokens=usage.cache_write_1h_tokens, reasoning_tokens=usage.reasoning_tokens)


async def embed(route: Route, request: LLMRequest) -> ChatResult:
    """An embedding request's call, as the attempt loop takes a call's result. The simulated provider
    makes vectors of the catalog's length; a real one is asked for `dimensions` only when the request set it."""
    texts = list(request.input or ())
    if route.simulated:
        done = await route.provider.embed(texts, model=route.spec.api_model, request_id=request.request_id,
                                          dimensions=request.dimensions or route.spec.embedding_dimensions)
    else:
        done = await route.provider.embed(texts, model=route.spec.api_model, dimensions=request.dimensions)
    return ChatResult(content="", usage=done.usage, ttft_ms=done.total_ms, total_ms=done.total_ms, finish_reason="stop",
                      simulated=done.simulated, usage_estimated=done.usage_estimated, embeddings=tuple(done.vectors))
