"""What a streamed request's reader shows: pieces in order, the answer filling in what was lost,
and never a second stream's text spliced onto the first's."""

import pytest

from streams.client.stream_follow import StreamDiverged, StreamFollower
from streams.events import ErrorInfo, LLMResponse, StreamDelta, ToolCall, ToolCallFragment


def delta(index: int, text: str, stream_id: str = "s1") -> StreamDelta:
    return StreamDelta(request_id="r", stream_id=stream_id, index=index, text=text, model="m", provider="openai")


def answer(content: str, status: str = "ok") -> LLMResponse:
    error = None if status == "ok" else ErrorInfo(code="stream_interrupted", message="x")
    return LLMResponse(request_id="r", status=status, content=content, error=error)


def test_pieces_in_order_then_the_answer_adds_nothing():
    follow = StreamFollower()
    assert [follow.delta(delta(i, t)) for i, t in enumerate(["a", "b", "c"])] == ["a", "b", "c"]
    assert follow.answer(answer("abc")) == [] and follow.shown == "abc"


def test_a_duplicate_is_skipped_and_after_a_gap_the_answer_fills_in():
    follow = StreamFollower()
    assert follow.delta(delta(0, "a")) == "a"
    assert follow.delta(delta(0, "a")) is None, "a piece delivered twice is shown once"
    assert follow.delta(delta(2, "c")) is None, "piece 1 was lost: nothing more from this stream"
    assert follow.delta(delta(3, "d")) is None
    assert follow.answer(answer("abcd")) == ["bcd"]


def test_a_second_stream_of_the_same_request_is_ignored_and_a_diverging_answer_raises():
    follow = StreamFollower()
    follow.delta(delta(0, "from the first worker "))
    assert follow.delta(delta(0, "from the second", stream_id="s2")) is None
    with pytest.raises(StreamDiverged) as caught:
        follow.answer(answer("from the second worker, whole"))
    assert caught.value.response.content == "from the second worker, whole"


def test_an_answer_without_pieces_is_shown_whole_and_a_failed_one_adds_nothing():
    assert StreamFollower().answer(answer("cached answer")) == ["cached answer"]
    follow = StreamFollower()
    follow.delta(delta(0, "partial "))
    assert follow.answer(answer("", status="error")) == []


def call_delta(index: int, fragment: ToolCallFragment) -> StreamDelta:
    return StreamDelta(request_id="r", stream_id="s1", index=index, tool_call=fragment, model="m", provider="openai")


def with_calls(*calls: ToolCall) -> LLMResponse:
    return LLMResponse(request_id="r", status="ok", content="", tool_calls=list(calls), finish_reason="tool_calls")


def test_tool_call_fragments_are_shown_and_the_answer_fills_in_what_a_gap_lost():
    follow = StreamFollower()
    first = ToolCallFragment(index=0, id="call_1", name="get_weather")
    assert follow.delta(call_delta(0, first)) == first
    assert follow.delta(call_delta(1, ToolCallFragment(index=0, arguments='{"city":'))).arguments == '{"city":'
    assert follow.delta(call_delta(3, ToolCallFragment(index=1, id="call_2", name="x"))) is None, "piece 2 was lost"
    rest = follow.answer(with_calls(ToolCall(id="call_1", name="get_weather", arguments='{"city": "Oslo"}'),
                                    ToolCall(id="call_2", name="get_time", arguments="{}")))
    assert rest == [ToolCallFragment(index=0, arguments=' "Oslo"}'),
                    ToolCallFragment(index=1, id="call_2", name="get_time", arguments="{}")]


def test_an_answer_whose_tool_call_does_not_continue_the_shown_arguments_raises():
    follow = StreamFollower()
    follow.delta(call_delta(0, ToolCallFragment(index=0, id="call_1", name="f", arguments='{"a": 1')))
    with pytest.raises(StreamDiverged):
        follow.answer(with_calls(ToolCall(id="call_9", name="f", arguments='{"b": 2}')))
