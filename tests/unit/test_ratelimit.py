"""Token buckets for RPM and TPM: would this call fit now, and if not, when?"""

import pytest

from providers import RateLimiter, TokenBucket


def test_a_full_bucket_admits_until_empty_then_says_when():
    bucket = TokenBucket(capacity=10, refill_per_second=2, updated=0.0)
    assert bucket.take(10, now=0.0)
    assert bucket.wait_for(4, now=0.0) == pytest.approx(2.0)
    assert not bucket.take(4, now=1.0)  # only 2 back after one second
    assert bucket.take(4, now=2.0)


def test_an_amount_over_capacity_never_fits():
    assert TokenBucket(capacity=5, refill_per_second=1).wait_for(6, now=0.0) == float("inf")


def test_the_seeds_openai_limits():
    limiter = RateLimiter(requests_per_minute=3500, tokens_per_minute=90_000)
    assert limiter.acquire(tokens=80_000, now=0.0)
    # 10,000 tokens left; 20,000 more need 10,000 refilled at 1,500/s.
    assert limiter.wait_for(tokens=20_000, now=0.0) == pytest.approx(10_000 / 1500)
    assert not limiter.acquire(tokens=20_000, now=0.0)
    assert limiter.tokens.level == pytest.approx(10_000), "a refused call takes nothing"


def test_requests_per_minute_binds_independently_of_tokens():
    limiter = RateLimiter(requests_per_minute=2, tokens_per_minute=1_000_000)
    assert limiter.acquire(1, now=0.0) and limiter.acquire(1, now=0.0)
    assert limiter.wait_for(1, now=0.0) == pytest.approx(30.0)


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(capacity=0, refill_per_second=1)
