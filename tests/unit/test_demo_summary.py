from streams.cli.demo import router_p50
from streams.events import LLMResponse
from streams.events.responses import Attempt, Latency


def _called(total: float, provider: float) -> LLMResponse:
    return LLMResponse(request_id=f"r{total}", status="ok", latency_ms=Latency(total=total),
                       attempts=[Attempt(model="m", provider="p", status="ok", latency_ms=provider)])


def _shared(total: float) -> LLMResponse:
    return LLMResponse(request_id=f"s{total}", status="ok", latency_ms=Latency(total=total), cache_hit=True)


def test_the_router_time_leaves_out_answers_that_waited_for_an_identical_call():
    # Three followers waited about as long as the leader's 50 ms call: counted, they would be the median.
    group = [_called(total=52.0, provider=50.0), _shared(51.0), _shared(51.5), _shared(52.0)]
    assert router_p50(group) == 2.0


def test_a_group_served_only_from_the_cache_shows_its_own_time():
    assert abs(router_p50([_shared(0.2), _shared(0.4)]) - 0.3) < 1e-9
