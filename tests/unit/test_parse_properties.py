"""Property-based: whatever bytes arrive on llm.requests, parsing gives a request or a named reason."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import InvalidRequest, LLMRequest, parse_request

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
FIELDS = st.fixed_dictionaries({}, optional={
    "request_id": st.one_of(st.text(max_size=200), st.integers(), st.none()),
    "task_type": st.one_of(st.sampled_from(["code_generation", "no_such_task", ""]), st.integers(), JSON),
    "prompt": st.one_of(st.text(max_size=50), st.integers(), JSON),
    "messages": st.one_of(st.lists(st.fixed_dictionaries({"role": st.text(max_size=10), "content": st.text(max_size=10)}),
                                   max_size=3), JSON),
    "max_cost_per_request": st.one_of(st.floats(allow_nan=True), st.integers(-10, 10), st.text(max_size=5)),
    "max_tokens": st.one_of(st.integers(-5, 5), st.text(max_size=5)),
    "quality_threshold": st.one_of(st.floats(-2, 2), st.none()),
    "metadata": JSON,
    "reply_to": st.one_of(st.text(max_size=30), st.sampled_from(["llm.requests", "ok.topic"])),
    "unexpected": JSON,
})


def _outcome(raw: bytes) -> LLMRequest | InvalidRequest:
    try:
        return parse_request(raw)
    except InvalidRequest as bad:
        return bad


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_a_request_or_a_reason(raw):
    outcome = _outcome(raw)
    assert isinstance(outcome, LLMRequest) or (isinstance(outcome, InvalidRequest) and outcome.reason)


@settings(max_examples=400, deadline=None)
@given(FIELDS)
def test_any_json_object_gives_a_request_or_a_reason_that_names_the_field(fields):
    outcome = _outcome(json.dumps(fields).encode())
    if isinstance(outcome, LLMRequest):
        return
    assert outcome.reason
    if isinstance(fields.get("request_id"), str) and 0 < len(fields["request_id"]) <= 128:
        assert outcome.request_id == fields["request_id"], "a usable request_id is kept, so the caller hears back"
    if outcome.reason.startswith("invalid request: "):
        first = outcome.reason.removeprefix("invalid request: ").split(":")[0].split(".")[0]
        assert first in {*fields, "request", "request_id", "task_type"}, outcome.reason  # a given or a required field


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=50, max_value=5000))
def test_deep_nesting_is_refused_with_a_reason_not_a_crash(depth):
    nested = "[" * depth + "]" * depth
    raw = ('{"request_id": "deep", "task_type": "code_generation", "prompt": "x", "metadata": {"a": ' + nested + "}}")
    outcome = _outcome(raw.encode())
    assert isinstance(outcome, (LLMRequest, InvalidRequest))
