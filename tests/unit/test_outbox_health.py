"""What the outbox tells /healthz: partitions of this worker whose answers have not been committed for long."""

from __future__ import annotations

import time

from aiokafka.errors import KafkaTimeoutError

from streams.kafka.outbox import TransactionalOutbox


def _outbox(owned: set[int]) -> TransactionalOutbox:
    return TransactionalOutbox("127.0.0.1:1", source_topic="llm.requests", marker_topic="llm.requests.answered",
                               group_id="g", owns=lambda p: p in owned)  # nothing connects until a partition is served


def test_a_partition_failing_for_longer_than_allowed_is_named_with_the_error():
    owned = {0, 1, 2}
    outbox = _outbox(owned)
    outbox._log(0).failed(KafkaTimeoutError())
    outbox._log(0).failing = (time.monotonic() - 14, "KafkaTimeoutError")  # failing for 14 s
    outbox._log(1).failed(KafkaTimeoutError())  # failing for a moment: a leader moving takes that long
    assert outbox.trouble(longer_than_s=10) == [
        "answers on partition 0 of llm.requests not committed for 14 s (KafkaTimeoutError)"]
    owned.discard(0)  # taken away: its new owner answers for it
    assert outbox.trouble(longer_than_s=10) == []


def test_failures_in_a_row_count_from_the_first():
    outbox = _outbox({0})
    log = outbox._log(0)
    log.failed(KafkaTimeoutError())
    first = log.failing
    time.sleep(0.01)
    log.failed(ConnectionError())
    assert log.failing == (first[0], "ConnectionError"), "the time is the first failure's; the error the latest"
