"""parse_request: every malformed shape gets a reason that names the problem."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from streams.events import (
    AttemptCompleted,
    InvalidRequest,
    LLMRequest,
    RequestCompleted,
    RequestServed,
    RouteDecided,
    parse_request,
)


def test_a_minimal_request_parses_and_prompt_becomes_one_user_message():
    request = parse_request(b'{"request_id": "r1", "task_type": "code_generation", "prompt": "hi"}')
    assert request.chat_messages()[0].role == "user" and request.chat_messages()[0].content == "hi"
    assert request.created_at.tzinfo is not None


@pytest.mark.parametrize(("raw", "reason", "request_id"), [
    (None, "empty event", None),
    (b"", "empty event", None),
    (b"{not json", "payload is not JSON", None),
    (b"\xff\xfe", "payload is not valid UTF-8 (byte 0)", None),
    (b"[1, 2]", "payload must be a JSON object, got list", None),
    (b'{"request_id": "r2", "prompt": "x"}', "task_type: Field required", "r2"),
    (b'{"request_id": "r3", "task_type": "t"}', "one of 'messages' or 'prompt' is required", "r3"),
    (b'{"request_id": "r4", "task_type": "t", "prompt": "x", "quality_threshold": 3}',
     "quality_threshold: Input should be less than or equal to 1", "r4"),
    (b'{"request_id": "r5", "task_type": "t", "prompt": "x", "max_cost_per_request": -1}',
     "max_cost_per_request: Input should be greater than or equal to 0", "r5"),
    (b'{"request_id": "r6", "task_type": "t", "prompt": "x", "reply_to": "no spaces allowed"}',
     "reply_to: must be a Kafka topic name", "r6"),
    (b'{"request_id": "r7", "task_type": "t", "prompt": "x", "surprise": 1}', "surprise: Extra inputs are not permitted", "r7"),
    (b'{"request_id": "r8", "task_type": "t", "prompt": "x", "reply_to": "llm.requests"}',
     "reply_to: llm.requests is an input topic of the router", "r8"),
    (b'{"request_id": 7, "task_type": "t", "prompt": "x"}', "request_id: Input should be a valid string", None),
])
def test_malformed_requests_name_what_is_wrong(raw, reason, request_id):
    with pytest.raises(InvalidRequest) as caught:
        parse_request(raw)
    assert reason in caught.value.reason
    assert caught.value.request_id == request_id


def test_a_salvaged_reply_to_is_kept_only_when_it_is_a_valid_topic():
    with pytest.raises(InvalidRequest) as caught:
        parse_request(b'{"request_id": "r", "reply_to": "my.replies"}')
    assert caught.value.reply_to == "my.replies"
    with pytest.raises(InvalidRequest) as caught:
        parse_request(b'{"request_id": "r", "reply_to": "bad topic"}')
    assert caught.value.reply_to is None


def test_deeply_nested_metadata_is_an_invalid_request_not_a_crash():
    nested = "[" * 100_000 + "]" * 100_000
    raw = f'{{"request_id": "deep", "task_type": "t", "prompt": "x", "metadata": {{"a": {nested}}}}}'.encode()
    with pytest.raises(InvalidRequest):
        parse_request(raw)


def test_events_round_trip_as_utf8_json():
    request = LLMRequest(request_id="r", task_type="t", prompt="héllo ✓")
    raw = request.to_bytes()
    assert json.loads(raw.decode("utf-8"))["prompt"] == "héllo ✓"
    assert parse_request(raw) == request


def test_a_served_requests_record_joins_its_events_into_what_the_model_reads_back():
    at = datetime.now(timezone.utc)
    completed = RequestCompleted(request_id="r", created_at=at, responded_at=at, task_type="t", environment="test",
                                 status="ok", attempts=1, fallback_used=False, input_tokens=3, output_tokens=2,
                                 cost_usd=0.5, total_ms=1.0, simulated=True)
    attempt = AttemptCompleted(attempt_id="r:1", request_id="r", attempt=1, started_at=at, environment="test",
                               task_type="t", model="m", provider="openai", status="ok", latency_ms=1.0, simulated=True)
    decided = RouteDecided(request_id="r", decided_at=at, environment="test", task_type="t", reason="routing_strategy",
                           candidates=["m"], scores={"m": 0.5})
    raw = RequestServed.encode([attempt, decided, completed])
    assert RequestServed.model_validate_json(raw).events == [attempt, decided, completed]
