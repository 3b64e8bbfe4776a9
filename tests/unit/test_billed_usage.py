"""Each family's usage fields land in the Usage field that bills them (the README's table), and a
price override prices every one of them."""

from __future__ import annotations

from decimal import Decimal

from providers import PriceOverride, Usage, cost_usd
from providers.anthropic import parse_message
from providers.cohere import parse_v2_chat
from providers.gemini import parse_generate_content
from providers.openai import parse_chat_completion


def test_openai_cached_and_reasoning_tokens():
    body = {"model": "o4-mini", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                             "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1024},
                      "completion_tokens_details": {"reasoning_tokens": 256}}}
    usage = parse_chat_completion(body, 1.0, provider="openai").usage
    assert usage == Usage(input_tokens=1200, output_tokens=300, cached_input_tokens=1024, reasoning_tokens=256)


def test_anthropic_reads_and_both_kinds_of_cache_write():
    body = {"model": "claude-sonnet-4-5", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 33, "cache_read_input_tokens": 1111,
                      "cache_creation_input_tokens": 418,
                      "cache_creation": {"ephemeral_5m_input_tokens": 118, "ephemeral_1h_input_tokens": 300}}}
    usage = parse_message(body, 1.0).usage
    assert usage == Usage(input_tokens=1532, output_tokens=33, cached_input_tokens=1111, cache_write_tokens=418,
                          cache_write_1h_tokens=300)
    # $3 input, $0.30 read, $3.75 5-minute write, $6 one-hour write, $15 output per million.
    expected = (3 * Decimal(3) + 1111 * Decimal("0.3") + 118 * Decimal("3.75") + 300 * Decimal(6) + 33 * Decimal(15)) / 10**6
    assert cost_usd("anthropic", "claude-sonnet-4-5", usage) == expected


def test_gemini_thoughts_are_billed_output_and_counted_as_reasoning():
    body = {"modelVersion": "gemini-3-pro-preview", "candidates": [{"content": {"parts": [{"text": "x"}]},
                                                                    "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 29, "candidatesTokenCount": 10, "thoughtsTokenCount": 110,
                              "cachedContentTokenCount": 8}}
    usage = parse_generate_content(body, 1.0).usage
    assert usage == Usage(input_tokens=29, output_tokens=120, cached_input_tokens=8, reasoning_tokens=110)


def test_cohere_v2_cached_tokens_and_billed_units():
    body = {"finish_reason": "COMPLETE", "message": {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
            "usage": {"billed_units": {"input_tokens": 50, "output_tokens": 26},
                      "tokens": {"input_tokens": 793, "output_tokens": 61}, "cached_tokens": 176}}
    assert parse_v2_chat(body, 1.0).usage == Usage(input_tokens=50, output_tokens=26, cached_input_tokens=176)


def test_a_price_override_prices_every_billed_field():
    override = PriceOverride(input_per_mtok=Decimal(2), output_per_mtok=Decimal(10), cached_input_per_mtok=Decimal("0.2"),
                             cache_write_per_mtok=Decimal("2.5"), cache_write_1h_per_mtok=Decimal(4),
                             reasoning_per_mtok=Decimal(12))
    usage = Usage(input_tokens=1000, cached_input_tokens=300, cache_write_tokens=200, cache_write_1h_tokens=50,
                  output_tokens=100, reasoning_tokens=40)
    expected = (500 * 2 + 300 * Decimal("0.2") + 150 * Decimal("2.5") + 50 * 4 + 60 * 10 + 40 * 12) / Decimal(10**6)
    assert cost_usd("local", "mine", usage, override) == expected
    plain = PriceOverride(input_per_mtok=Decimal(2), output_per_mtok=Decimal(10))
    assert cost_usd("local", "mine", usage, plain) == (1000 * 2 + 100 * 10) / Decimal(10**6), "unset rates default"
