"""The demo's agent tool loop: a model is offered a tool, calls it, the demo runs it, and the model
answers with its result, as an agent platform's agents do through the router."""

from __future__ import annotations

import json
import uuid

from rich.console import Console
from rich.markup import escape

from streams.client.reply_client import ReplyClient
from streams.events import ChatMessage, LLMRequest, LLMResponse, ToolSpec

__all__ = ["run_tool_loop", "WEATHER_TOOL"]

WEATHER_TOOL = ToolSpec(name="get_weather", description="The weather in a city now",
                        parameters={"type": "object", "properties": {"city": {"type": "string"}},
                                    "required": ["city"]})


def _get_weather(arguments: str) -> str:
    """The demo's tool: a real function the demo runs with the model's arguments."""
    city = json.loads(arguments).get("city", "?")
    return json.dumps({"city": city, "temperature_c": 18, "sky": "clear"})


async def run_tool_loop(client: ReplyClient, console: Console, *, timeout: float = 120.0) -> list[LLMResponse]:
    run = uuid.uuid4().hex[:8]
    history = [ChatMessage(role="user", content="What is the weather in Oslo right now?")]
    answers = []
    for turn in range(1, 4):  # a well-behaved model calls once, then answers; three turns at most
        request = LLMRequest(request_id=f"demo-{run}-agent-turn-{turn}", task_type="code_generation",
                             agent_context="implementation_agent", messages=history, tools=[WEATHER_TOOL],
                             max_tokens=256, metadata={"tenant": "demo"})
        answer = await client.call_one(request, timeout=timeout)
        answers.append(answer)
        if answer.status != "ok":
            console.print(f"agent tool loop, turn {turn}: {answer.status} {answer.error.code if answer.error else ''}")
            break
        if not answer.tool_calls:
            console.print(f"agent tool loop, turn {turn}: {answer.model} answered ({answer.finish_reason}): "
                          f"{escape(answer.content or '')}")
            break
        history.append(ChatMessage(role="assistant", content=answer.content or None, tool_calls=answer.tool_calls))
        for call in answer.tool_calls:
            result = _get_weather(call.arguments)
            console.print(f"agent tool loop, turn {turn}: {answer.model} called {call.name}({escape(call.arguments)}) "
                          f"({answer.finish_reason}); the demo ran it: {escape(result)}")
            history.append(ChatMessage(role="tool", tool_call_id=call.id, content=result))
    return answers
