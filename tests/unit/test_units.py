from datetime import timedelta
from decimal import Decimal

import pytest

from streams.config.units import parse_duration, parse_money


@pytest.mark.parametrize(("text", "expected"), [
    ("$500", Decimal("500")), ("$15,000", Decimal("15000")), ("$0.25", Decimal("0.25")), (100, Decimal("100")),
])
def test_money(text, expected):
    assert parse_money(text) == expected


@pytest.mark.parametrize("bad", ["-$1", "$ten", "", None, True, "NaN"])
def test_bad_money_is_refused(bad):
    with pytest.raises(ValueError):
        parse_money(bad)


@pytest.mark.parametrize(("text", "expected"), [
    ("1s", timedelta(seconds=1)), ("60s", timedelta(seconds=60)), ("300 s", timedelta(seconds=300)),
    ("5m", timedelta(minutes=5)), ("90_days", timedelta(days=90)), ("7_days_max", timedelta(days=7)),
    ("250ms", timedelta(milliseconds=250)), (2.5, timedelta(seconds=2.5)),
])
def test_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["soon", "1 fortnight", "-5s", "", True])
def test_bad_duration_is_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_kafka_cluster_ids_never_start_with_a_dash():
    import base64

    from streams.kafka.localkafka.broker import new_cluster_id

    ids = [new_cluster_id() for _ in range(5000)]
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids[:50])
