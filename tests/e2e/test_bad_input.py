"""Malformed request events: each reaches the DLQ with its reason, and the worker keeps serving."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from tests.support.kafka_io import consume_until, produce

pytestmark = pytest.mark.kafka


async def test_malformed_events_are_dead_lettered_and_the_next_good_one_is_served(stack):
    run = uuid.uuid4().hex[:8]
    reply = f"test.replies.{run}"
    bad = [
        (b"not-json", f"not json at all {run}".encode(), "payload is not JSON"),
        (b"bad-utf8", b"\xff\xfe{" + run.encode(), "payload is not valid UTF-8"),
        (b"array", json.dumps([run, 1, 2]).encode(), "payload must be a JSON object, got list"),
        (b"missing", json.dumps({"request_id": f"bad-{run}-missing", "reply_to": reply}).encode(),
         "task_type: Field required"),
        (b"types", json.dumps({"request_id": f"bad-{run}-types", "task_type": 42, "prompt": "x",
                               "max_tokens": "lots", "reply_to": reply}).encode(), "task_type: Input should be a valid string"),
        (b"both", json.dumps({"request_id": f"bad-{run}-both", "task_type": "code_generation", "prompt": "x",
                              "messages": [{"role": "user", "content": "y"}], "reply_to": reply}).encode(),
         "give 'messages' or 'prompt', not both"),
    ]
    good = {"request_id": f"bad-{run}-good", "task_type": "code_generation", "prompt": "hello", "reply_to": reply}
    await produce(stack.bootstrap, "llm.requests",
                  [(key, value) for key, value, _ in bad] + [(b"good", json.dumps(good).encode())])

    def ours(message) -> bool:  # noqa: ANN001
        return run.encode() in base64.b64decode(json.loads(message.value)["payload_b64"])

    letters = await consume_until(stack.bootstrap, "llm.requests.dlq",
                                  lambda ms: sum(map(ours, ms)) >= len(bad), timeout=60)
    reasons = {m.key: json.loads(m.value)["reason"] for m in letters if ours(m)}
    assert set(reasons) == {key for key, _, _ in bad}
    for key, payload, expected in bad:
        assert expected in reasons[key], (key, reasons[key])
    originals = {m.key: base64.b64decode(json.loads(m.value)["payload_b64"]) for m in letters if ours(m)}
    assert originals == {key: payload for key, payload, _ in bad}  # nothing lost: the bytes are kept

    replies = await consume_until(stack.bootstrap, reply, lambda ms: len(ms) >= 4, timeout=60)
    by_id = {json.loads(m.value)["request_id"]: json.loads(m.value) for m in replies}
    assert set(by_id) == {f"bad-{run}-missing", f"bad-{run}-types", f"bad-{run}-both", f"bad-{run}-good"}
    for name in ("missing", "types", "both"):
        assert by_id[f"bad-{run}-{name}"]["status"] == "error"
        assert by_id[f"bad-{run}-{name}"]["error"]["code"] == "invalid_request"
    assert by_id[f"bad-{run}-good"]["status"] == "ok"
    assert stack.children["worker"].poll() is None, "the worker must survive bad input"


async def test_unknown_task_type_gets_an_error_response_naming_the_known_ones(stack):
    run = uuid.uuid4().hex[:8]
    reply = f"test.replies.{run}"
    request = {"request_id": f"unk-{run}", "task_type": "poetry", "prompt": "a haiku", "reply_to": reply}
    await produce(stack.bootstrap, "llm.requests", [(request["request_id"].encode(), json.dumps(request).encode())])
    replies = await consume_until(stack.bootstrap, reply, lambda ms: len(ms) >= 1, timeout=60)
    response = json.loads(replies[0].value)
    assert response["status"] == "error"
    assert response["error"]["code"] == "unknown_task_type"
    assert "'poetry'" in response["error"]["message"] and "code_generation" in response["error"]["message"]


async def test_a_letter_too_large_to_keep_its_payload_points_at_the_original_and_the_partition_goes_on(stack):
    # 900 KB of not-JSON: base64 in a letter would pass Kafka's 1 MB record limit, and an answer's
    # transaction that cannot be written would hold back every answer after it on its partition.
    run = uuid.uuid4().hex[:8]
    reply = f"test.replies.{run}"
    key = f"huge-{run}".encode()
    good = {"request_id": f"huge-{run}-good", "task_type": "code_generation", "prompt": "hello", "reply_to": reply}
    await produce(stack.bootstrap, "llm.requests", [(key, b"x" * 900_000), (key, json.dumps(good).encode())])

    letters = await consume_until(stack.bootstrap, "llm.requests.dlq", lambda ms: any(m.key == key for m in ms),
                                  timeout=60)
    (letter,) = [json.loads(m.value) for m in letters if m.key == key]
    assert letter["payload_b64"] == ""
    assert "payload is not JSON" in letter["reason"]
    assert f"the 900000 bytes stay in llm.requests[{letter['partition']}]@{letter['offset']}" in letter["reason"]
    replies = await consume_until(stack.bootstrap, reply, lambda ms: len(ms) >= 1, timeout=60)
    assert json.loads(replies[0].value)["status"] == "ok"  # same key, so same partition: it went on
