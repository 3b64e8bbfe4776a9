"""The workers' Faust consumer (streams/app/faust_app.py): what it commits, and how it fetches."""

from __future__ import annotations

import pytest
from faust.types import TP

from streams.app.faust_app import create_app
from streams.config.settings import Settings
from streams.events.topic_names import REQUESTS, SETTLEMENTS


@pytest.fixture
def consumer(tmp_path):
    app = create_app(Settings(hugai_data_dir=tmp_path), "127.0.0.1:1")  # nothing connects until started
    return app.consumer


async def test_a_commit_runs_over_gaps_and_stops_at_the_first_offset_not_acknowledged(consumer):
    tp = TP(SETTLEMENTS, 0)
    consumer._committed_offset[tp] = 3
    for begin, end in [(5, 5), (5, 6), (8, 8), (2, 2)]:  # overlapping, and one before the commit
        await consumer._add_gap(tp, begin, end)
    assert len(consumer._gap[tp]) == 3, "added as they come (the one before the commit dropped); merged later"
    consumer._acked[tp].extend([4, 7, 9])
    assert consumer._new_offset(tp) == 10


async def test_a_commit_stops_at_an_offset_neither_acknowledged_nor_a_gap(consumer):
    tp = TP(SETTLEMENTS, 0)
    consumer._committed_offset[tp] = 3
    await consumer._add_gap(tp, 5, 5)
    consumer._acked[tp].extend([4, 7, 9])
    assert consumer._new_offset(tp) == 6, "6 was never seen"


async def test_requests_are_committed_from_the_outbox_not_from_gaps(consumer):
    tp = TP(REQUESTS, 2)
    await consumer._add_gap(tp, 0, 100)
    assert not consumer._gap.get(tp)
    consumer._acked[tp].extend([101, 102])
    consumer.app.committable_requests = lambda partition: {2: 57}.get(partition)
    assert consumer._new_offset(tp) == 57


@pytest.mark.parametrize(("batch_ms", "min_bytes", "max_wait_ms"), [(20, 32 * 1024, 20), (0, 1, 1500)])
async def test_fetches_gather_records_for_as_long_as_configured(tmp_path, batch_ms, min_bytes, max_wait_ms):
    app = create_app(Settings(hugai_data_dir=tmp_path, hugai_fetch_batch_ms=batch_ms), "127.0.0.1:1")
    consumer = app.consumer._thread._create_worker_consumer(app.transport)  # built, not started
    assert (consumer._fetch_min_bytes, consumer._fetch_max_wait_ms) == (min_bytes, max_wait_ms)
    assert consumer._isolation_level == "read_committed"
