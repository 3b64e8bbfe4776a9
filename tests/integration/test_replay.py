"""`hugai-llm replay` on a recorded day generated here: known tokens, models, latencies and feedback,
and prices set in the configs, so every figure below is computed by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml

from analytics import ChdbStore, apply_migrations
from streams.cli.replay import replay_endpoint, replay_report
from streams.config import DEFAULT_CONFIG_PATH, parse_config
from tests.support.clock import iso, yesterday_at

DAY = yesterday_at(10)
START, END = DAY - timedelta(hours=1), DAY + timedelta(hours=3)
GPT, CLAUDE = "gpt-4-turbo", "claude-3-5-sonnet"
# USD per million tokens: gpt-4-turbo 10 in / 30 out, claude 3 in / 15 out.
# code_generation: 1000 in, 500 out -> gpt $0.025, claude $0.0105; security_review: 2000 in, 1000 out -> claude $0.021
PRICES = {GPT: {"input_per_mtok": 10, "output_per_mtok": 30}, CLAUDE: {"input_per_mtok": 3, "output_per_mtok": 15}}


def _config(change=lambda raw: None):  # noqa: ANN001, ANN202
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    for model, price in PRICES.items():
        raw["models"][model]["price"] = price
    change(raw)
    return raw


def _request(i: int, task: str, model: str, provider: str, tokens: tuple[int, int], cost: float, ms: float,
             at) -> dict:  # noqa: ANN001
    return {"request_id": f"day-{task}-{i}", "created_at": iso(at), "responded_at": iso(at), "task_type": task,
            "agent_context": "", "environment": "development", "model": model, "provider": provider, "status": "ok",
            "attempts": 1, "fallback_used": False, "input_tokens": tokens[0], "output_tokens": tokens[1],
            "cost_usd": cost, "total_ms": ms, "simulated": True, "inputs_recorded": True,
            "estimated_input_tokens": tokens[0]}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = ChdbStore(tmp_path_factory.mktemp("replay") / "ch")
    apply_migrations(store)
    store.insert("requests", [
        *(_request(i, "code_generation", GPT, "openai", (1000, 500), 0.025, 800.0, DAY + timedelta(minutes=i))
          for i in range(10)),
        *(_request(i, "security_review", CLAUDE, "anthropic", (2000, 1000), 0.021, 1200.0,
                   DAY + timedelta(hours=1, minutes=i)) for i in range(5)),
    ])
    store.insert("feedback", [{"request_id": f"day-code_generation-{i}", "given_at": iso(DAY + timedelta(hours=2)),
                               "human_satisfaction_rating": 4, "source": "test"} for i in range(5)])
    yield store
    store.close()


def _by_task(rows: list[dict]) -> dict[str, dict]:
    return {row["task_type"]: row for row in rows}


def test_the_live_config_over_its_own_traffic_reproduces_what_happened(store):
    rows = _by_task(replay_report(store, parse_config(_config()), start=START, end=END, by="task_type"))
    total = rows["(total)"]
    assert total["requests"] == 15 and total["changed_model"] == 0 and total["refused"] == 0
    assert total["candidate_models"] == total["actual_models"] == {GPT: round(10 / 15, 4), CLAUDE: round(5 / 15, 4)}
    assert total["candidate_cost_usd"] == pytest.approx(total["actual_cost_usd"]) == pytest.approx(10 * 0.025 + 5 * 0.021)
    code = rows["code_generation"]
    # Rated 4 of 5 on five of its requests: (4 - 1) / 4; latency the recorded p50 of its ten
    assert (code["actual_quality"], code["candidate_quality"], code["candidate_p50_ms"]) == (0.75, 0.75, 800.0)
    assert (code["latency_backed"], code["quality_backed"]) == (10, 10)


def test_a_candidate_that_swaps_a_primary_and_lowers_a_budget(store):
    def candidate(raw: dict) -> None:
        raw["routing_strategy"]["code_generation"].update(primary=CLAUDE, fallback=[GPT])
        raw["routing_strategy"]["security_review"]["fallback"] = [GPT]
        # anthropic's day: ten code_generation calls on claude and two security reviews. openai's is below one
        # security review on gpt ($0.05), and nothing degrades to a cheaper tier: the other three are refused.
        raw["cost_controls"]["daily_budgets"].update(anthropic=f"${10 * 0.0105 + 2 * 0.021 + 0.0001:.4f}", openai="$0.04")
        raw["fallback_configuration"]["primary_failure_handling"] = [
            a for a in raw["fallback_configuration"]["primary_failure_handling"] if a["action"] != "degrade_gracefully"]

    config = parse_config(_config(candidate))
    rows = _by_task(replay_report(store, config, start=START, end=END, by="task_type"))
    code, review, total = rows["code_generation"], rows["security_review"], rows["(total)"]
    assert (code["candidate_models"], code["changed_model"], code["refused"]) == ({CLAUDE: 1.0}, 10, 0)
    assert code["candidate_cost_usd"] == pytest.approx(10 * 0.0105) and code["actual_cost_usd"] == pytest.approx(0.25)
    # claude never answered code_generation in the recording: latency unknown, quality its tier's prior
    assert (code["candidate_p50_ms"], code["candidate_quality"], code["latency_backed"], code["quality_backed"]) == (
        None, 0.95, 0, 0)
    assert (review["candidate_models"], review["changed_model"]) == ({CLAUDE: 0.4}, 0)
    assert (review["refused"], review["refused_why"]) == (3, {"budget_exceeded": 3})
    assert review["candidate_cost_usd"] == pytest.approx(2 * 0.021) and review["candidate_p50_ms"] == 1200.0
    assert total["candidate_cost_usd"] == pytest.approx(10 * 0.0105 + 2 * 0.021)
    # The same recorded traffic and config give the same report.
    assert replay_report(store, config, start=START, end=END, by="task_type") == list(rows.values())


def test_the_sink_endpoint_runs_the_same_replay_and_names_bad_input(store):
    body = {"config": yaml.safe_dump(_config()), "start": START.isoformat(), "end": END.isoformat(), "by": "model"}
    by_model = {row["model"]: row for row in replay_endpoint(store, body)}
    assert by_model[GPT]["requests"] == 10 and by_model[CLAUDE]["requests"] == 5
    with pytest.raises(ValueError, match="routing_strategy"):
        broken = _config(lambda raw: raw["routing_strategy"]["code_generation"].update(primary="no-such-model"))
        replay_endpoint(store, {**body, "config": yaml.safe_dump(broken)})
    with pytest.raises(ValueError, match="start and end"):
        replay_endpoint(store, {"config": body["config"]})
