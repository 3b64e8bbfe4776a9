"""Which chat-completions parameters the endpoint honours, which it accepts as harmless, and which it
refuses by name: none is dropped on the way. Pure."""

from __future__ import annotations

from typing import Any

__all__ = ["HONOURED", "HARMLESS", "refused_parameter"]

# Carried into the request event and on to the provider.
HONOURED = frozenset({
    "model", "messages", "max_completion_tokens", "max_tokens", "temperature", "top_p", "stop", "seed", "tools",
    "tool_choice", "parallel_tool_calls", "response_format", "stream", "stream_options", "metadata",
})
# Accepted and not passed on, because they change nothing a caller gets back: who the end user is (kept
# out of every log, as all content is), OpenAI's own storage and cache-routing hints.
HARMLESS = frozenset({"user", "safety_identifier", "store", "prompt_cache_key"})

# Parameters accepted only at the value that asks for nothing (what OpenAI does without them).
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "n": (1,), "logprobs": (False,), "frequency_penalty": (0, 0.0), "presence_penalty": (0, 0.0),
    "modalities": (["text"],), "service_tier": ("auto", "default"),
}
_WHY = {
    "n": "one choice per request; send n requests for n answers",
    "logprobs": "log probabilities are not carried across providers",
    "top_logprobs": "log probabilities are not carried across providers",
    "audio": "audio output is not carried",
    "modalities": "only text output is carried",
    "functions": "the deprecated functions API: send tools",
    "function_call": "the deprecated functions API: send tool_choice",
    "logit_bias": "token biases are model-specific and not carried",
    "prediction": "predicted outputs are OpenAI-only and not carried",
    "reasoning_effort": "reasoning effort is not carried yet",
    "verbosity": "verbosity is not carried yet",
    "web_search_options": "web search is not carried",
    "frequency_penalty": "penalties are not carried (Anthropic has none)",
    "presence_penalty": "penalties are not carried (Anthropic has none)",
    "service_tier": "service tiers are not carried; the router picks the model",
}


def refused_parameter(body: dict[str, Any]) -> tuple[str, str] | None:
    """(parameter, why) for the first parameter the endpoint will not carry, or None."""
    for name, value in body.items():
        if name in HONOURED or name in HARMLESS or value is None:
            continue
        if name in _NEUTRAL and value in _NEUTRAL[name]:
            continue
        return name, _WHY.get(name, "not a chat-completions parameter this endpoint knows")
    return None
