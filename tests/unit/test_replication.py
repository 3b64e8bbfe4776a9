"""How many copies a topic gets, and how a topic below that is named."""

from __future__ import annotations

import pytest

from streams.kafka.replication import Replication, ReplicationError, TopicCopies, shortfalls, wanted_factor


@pytest.mark.parametrize(("brokers", "factor", "min_insync"), [(1, 1, 1), (2, 2, 2), (3, 3, 2), (5, 3, 2)])
def test_copies_follow_the_cluster_size_up_to_three(brokers, factor, min_insync):
    assert Replication.for_brokers(brokers) == Replication(factor=factor, min_insync=min_insync)


def test_an_asked_factor_wins_but_never_past_the_brokers():
    assert Replication.for_brokers(5, wanted=5) == Replication(factor=5, min_insync=2)
    assert Replication.for_brokers(3, wanted=1) == Replication(factor=1, min_insync=1)
    with pytest.raises(ReplicationError, match="HUGAI_REPLICATION_FACTOR=4, but the cluster has 3 broker"):
        Replication.for_brokers(3, wanted=4)


@pytest.mark.parametrize("raw", ["0", "three", "-1", "2.5"])
def test_a_malformed_factor_is_refused_by_name(monkeypatch, raw):
    monkeypatch.setenv("HUGAI_REPLICATION_FACTOR", raw)
    with pytest.raises(ReplicationError, match=f"HUGAI_REPLICATION_FACTOR must be a whole number.*{raw!r}"):
        wanted_factor()


def test_an_unset_factor_means_the_cluster_decides(monkeypatch):
    monkeypatch.delenv("HUGAI_REPLICATION_FACTOR", raising=False)
    assert wanted_factor() is None
    monkeypatch.setenv("HUGAI_REPLICATION_FACTOR", " 2 ")
    assert wanted_factor() == 2


def test_each_topic_below_what_is_wanted_is_named_with_what_it_lacks():
    found = {
        "llm.requests": TopicCopies("llm.requests", partitions=4, replicas=3, min_insync=2),
        "llm.telemetry": TopicCopies("llm.telemetry", partitions=4, replicas=1, min_insync=1),
        "llm.budget": TopicCopies("llm.budget", partitions=1, replicas=3, min_insync=2),
        "llm.feedback": TopicCopies("llm.feedback", partitions=2, replicas=3, min_insync=2),
    }
    wanted = {"llm.requests": 4, "llm.telemetry": 4, "llm.budget": 1, "llm.feedback": 4, "llm.control": 1}
    assert shortfalls(found, wanted, Replication(3, 2)) == [
        "llm.control: missing",
        "llm.feedback: 2 partitions, 4 wanted",
        "llm.telemetry: 1 copies, 3 wanted, min.insync.replicas 1, 2 wanted",
    ]
    assert shortfalls(found, {"llm.requests": 4}, Replication(3, 2)) == []
