"""Two worker processes on the real broker: one circuit breaker per model, operators' commands
and the approval queue, all seen alike by both workers, and all on record in ClickHouse.

Breakers: the primary of complex_reasoning (gpt-4-turbo, served over HTTP by the test server)
fails; its fallback (claude-3-5-sonnet, simulated) answers. After failure_threshold failures the
breaker is open on both workers; after recovery_timeout one probe, granted to one worker, closes it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from analytics.store import ChdbStore
from streams.cli.devstack import DevStack
from streams.events import LLMRequest
from tests.conftest import SENTINEL_KEY, config_file, own_broker, running_stack, wire_id
from tests.support.stack_io import ask, cluster_view, hugai, wait_for

pytestmark = pytest.mark.kafka

RECOVERY_S = 4
PRIMARY_WIRE = wire_id("gpt-4-turbo")  # complex_reasoning's primary, as the provider server is sent it
# Far longer than the CLI takes to decide, even on a loaded machine: here every request is decided
# by an operator. The timeout itself is tested on a stack of its own (test_approval_timeout.py).
APPROVAL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def two_workers(provider_server, tmp_path_factory) -> Iterator[DevStack]:  # noqa: ANN001
    def change(raw: dict) -> None:
        raw["circuit_breaker"] = {"failure_threshold": 5, "recovery_timeout": f"{RECOVERY_S}s"}
        raw["human_oversight"] = {"critical_task_types": ["security_review"], "approval_cost_threshold": "$0.0001",
                                  "approval_timeout": f"{APPROVAL_TIMEOUT_S}s"}

    # A broker of its own: breakers opened and operators' overrides live on compacted topics, and a
    # test here that failed half-way once left them set for every later module on a shared broker
    # (a forced-open breaker and an open gpt-4-turbo rerouted six tests in four later modules).
    data = tmp_path_factory.mktemp("cluster")
    with own_broker(tmp_path_factory.mktemp("cluster-kafka")) as broker, \
            running_stack(data, broker.bootstrap, workers=2, HUGAI_CONFIG=str(config_file(data, change)),
                          OPENAI_API_KEY=SENTINEL_KEY, OPENAI_BASE_URL=provider_server.base_url) as dev:
        yield dev


@pytest.fixture
def failing_primary(provider_server):  # noqa: ANN001, ANN201
    """gpt-4-turbo fails until the test lets it recover, and at the latest when the test ends."""
    provider_server.failing.add(PRIMARY_WIRE)
    yield provider_server
    provider_server.failing.discard(PRIMARY_WIRE)


@pytest.mark.faults
def test_a_long_retry_after_sends_both_workers_to_the_fallback_until_it_ends(two_workers, provider_server):
    dev, run, wait_s = two_workers, uuid.uuid4().hex[:8], 20
    primary_calls = lambda: sum(1 for c in provider_server.calls if c.get("model") == PRIMARY_WIRE)  # noqa: E731
    provider_server.limited_until[PRIMARY_WIRE] = time.monotonic() + wait_s
    try:
        started, before = time.monotonic(), primary_calls()
        first = ask(dev, [LLMRequest(request_id=f"rl-{run}-0", task_type="complex_reasoning", prompt="limited 0")])
        answer = next(iter(first.values()))
        assert answer.status == "ok" and answer.model == "claude-3-5-sonnet"
        assert [a.error_code for a in answer.attempts] == ["rate_limited", None], "one 429, no retry, the fallback"
        assert primary_calls() == before + 1
        views = wait_for(lambda: (v := cluster_view(dev)) and all(
            (w["breakers"].get("gpt-4-turbo", {}).get("limited_until") or 0) > time.time() for w in v.values()) and v,
            "the limit known to both workers")
        assert {w["breakers"]["gpt-4-turbo"]["state"] for w in views.values()} == {"closed"}, "not a breaker matter"
        later = [LLMRequest(request_id=f"rl-{run}-{i}", task_type="complex_reasoning", prompt=f"limited {i}")
                 for i in range(1, 21)]
        answers = ask(dev, later)
        assert {r.model for r in answers.values()} == {"claude-3-5-sonnet"}
        assert primary_calls() == before + 1, "neither worker called the limited model again"
        assert time.monotonic() - started < wait_s, "nobody waited out the Retry-After"
        wait_for(lambda: time.monotonic() - started > wait_s + 1, "the limit to end", timeout=wait_s + 5)
        after = ask(dev, [LLMRequest(request_id=f"rl-{run}-after-{i}", task_type="complex_reasoning",
                                     prompt=f"free {i}") for i in range(4)])
        assert {r.model for r in after.values()} == {"gpt-4-turbo"}, "back in routing on both, with no restart"
    finally:
        provider_server.limited_until.clear()


@pytest.mark.faults
def test_the_breaker_opens_on_both_workers_fallbacks_answer_and_one_probe_closes_it(two_workers, failing_primary):
    dev, run, provider_server = two_workers, uuid.uuid4().hex[:8], failing_primary
    primary_calls = lambda: sum(1 for c in provider_server.calls if c.get("model") == PRIMARY_WIRE)  # noqa: E731
    requests = [LLMRequest(request_id=f"cb-{run}-{i}", task_type="complex_reasoning", prompt=f"think {i}") for i in range(40)]
    responses = ask(dev, requests)
    assert {r.status for r in responses.values()} == {"ok"}
    assert {r.model for r in responses.values()} == {"claude-3-5-sonnet"}, "every request is answered by the fallback"
    failed_first = {r.request_id for r in responses.values() if r.attempts[0].model == "gpt-4-turbo"}
    assert len(failed_first) >= 5

    views = wait_for(lambda: (v := cluster_view(dev)) and all(
        w["breakers"].get("gpt-4-turbo", {}).get("state") == "open" for w in v.values()) and v, "open on both workers")
    lag = {role: w["breakers"]["gpt-4-turbo"]["applied_at"] - w["breakers"]["gpt-4-turbo"]["opened_at"]
           for role, w in views.items()}
    # Printed for the notes, not asserted: how soon is a speed figure (docs/benchmarks.md), and a
    # bound on it here failed once on a loaded machine (1.04 s) and took the module's later tests with it.
    print(f"\n[breaker] opened -> known on each worker after (s): {lag}")
    assert all(seconds >= 0 for seconds in lag.values()), f"applied before it was opened: {lag}"

    calls_while_open = primary_calls()
    later = [LLMRequest(request_id=f"cb-{run}-open-{i}", task_type="complex_reasoning", prompt=f"think open {i}") for i in range(10)]
    answered = ask(dev, later)
    assert {r.model for r in answered.values()} == {"claude-3-5-sonnet"}
    assert all([a.model for a in r.attempts] == ["claude-3-5-sonnet"] for r in answered.values())
    assert primary_calls() == calls_while_open, "an open breaker sends nothing to its model, on either worker"

    provider_server.failing.discard(PRIMARY_WIRE)  # the provider recovers
    time.sleep(RECOVERY_S)
    before_probe = primary_calls()
    served_by_primary = None
    for i in range(60):  # one at a time, until the worker granted the probe gets a request
        (response,) = ask(dev, [LLMRequest(request_id=f"cb-{run}-probe-{i}", task_type="complex_reasoning",
                                           prompt=f"think probe {i}")]).values()
        assert response.status == "ok"
        if response.model == "gpt-4-turbo":
            served_by_primary = i
            break
        time.sleep(0.1)
    assert served_by_primary is not None, "the probe never went"
    assert primary_calls() - before_probe == 1, "exactly one probe"
    wait_for(lambda: all(w["breakers"]["gpt-4-turbo"]["state"] == "closed" for w in cluster_view(dev).values()),
             "closed on both workers")
    after = ask(dev, [LLMRequest(request_id=f"cb-{run}-after-{i}", task_type="complex_reasoning",
                                  prompt=f"think after {i}") for i in range(6)])
    assert {r.model for r in after.values()} == {"gpt-4-turbo"}


def on_both(dev: DevStack, check, what: str) -> None:  # noqa: ANN001
    wait_for(lambda: all(check(view) for view in cluster_view(dev).values()), f"{what} on both workers")


def routed(dev: DevStack, task_type: str, n: int, tag: str) -> list:
    return list(ask(dev, [LLMRequest(request_id=f"{tag}-{uuid.uuid4().hex[:6]}-{i}", task_type=task_type, prompt=f"x {tag} {i}")
                          for i in range(n)]).values())


def test_operator_commands_take_effect_on_both_workers(two_workers):
    dev = two_workers
    done = hugai(dev, "control", "model", "gpt-4-turbo", "disable", "--reason", "vendor incident 42", "--actor", "ops-ann")
    assert done.returncode == 0, done.stderr
    on_both(dev, lambda v: "gpt-4-turbo" in v["overrides"]["disabled_models"], "gpt-4-turbo disabled")
    responses = routed(dev, "complex_reasoning", 8, "ctl-off")
    assert {r.model for r in responses} == {"claude-3-5-sonnet"}
    assert all("gpt-4-turbo" not in [a.model for a in r.attempts] for r in responses)
    assert hugai(dev, "control", "model", "gpt-4-turbo", "enable", "--reason", "resolved").returncode == 0
    on_both(dev, lambda v: not v["overrides"]["disabled_models"], "gpt-4-turbo enabled")

    assert hugai(dev, "control", "pin", "code_generation", "gemini-pro", "--reason", "trial").returncode == 0
    on_both(dev, lambda v: v["overrides"]["pins"] == {"code_generation": "gemini-pro"}, "the pin")
    assert {r.model for r in routed(dev, "code_generation", 8, "ctl-pin")} == {"gemini-pro"}
    assert hugai(dev, "control", "unpin", "code_generation", "--reason", "trial over").returncode == 0

    assert hugai(dev, "control", "breaker", "claude-3-5-sonnet", "open", "--reason", "drill").returncode == 0
    on_both(dev, lambda v: v["overrides"]["forced_breakers"] == {"claude-3-5-sonnet": "open"}, "forced open")
    assert {r.model for r in routed(dev, "requirements_analysis", 8, "ctl-brk")} == {"gpt-4-turbo"}
    assert hugai(dev, "control", "breaker", "claude-3-5-sonnet", "auto", "--reason", "drill over").returncode == 0
    on_both(dev, lambda v: not v["overrides"]["forced_breakers"] and not v["overrides"]["pins"], "all cleared")
    assert {r.model for r in routed(dev, "requirements_analysis", 4, "ctl-back")} == {"claude-3-5-sonnet"}

    show = hugai(dev, "control", "show")
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)
    assert shown == {"forced_breakers": {}, "disabled_models": [], "disabled_providers": [], "pins": {}}
    bad = hugai(dev, "control", "model", "gpt-5", "disable", "--reason", "x")
    assert bad.returncode == 2 and "unknown model 'gpt-5'" in bad.stderr


def test_critical_requests_wait_for_approval_and_are_approved_or_rejected(two_workers):
    dev, run = two_workers, uuid.uuid4().hex[:6]
    ids = {name: f"appr-{run}-{name}" for name in ("approve", "reject")}
    answers: dict = {}
    asker = threading.Thread(target=lambda: answers.update(ask(dev, [
        LLMRequest(request_id=rid, task_type="security_review", prompt=f"review {rid}") for rid in ids.values()])))
    asker.start()

    def waiting() -> set[str]:
        listed = hugai(dev, "approvals", "list", "--json")
        return {json.loads(line)["request_id"] for line in listed.stdout.splitlines()}

    wait_for(lambda: set(ids.values()) <= waiting(), "both requests in the approval queue")
    on_both(dev, lambda v: True, "workers up")
    approved = hugai(dev, "approvals", "approve", ids["approve"], "--reason", "looks fine", "--actor", "lead-bo")
    assert approved.returncode == 0, approved.stderr
    assert hugai(dev, "approvals", "reject", ids["reject"], "--reason", "too costly").returncode == 0
    asker.join(timeout=60)
    assert answers[ids["approve"]].status == "ok" and answers[ids["approve"]].model == "claude-3-5-sonnet"
    assert (answers[ids["reject"]].status, answers[ids["reject"]].error.code) == ("rejected", "approval_rejected")
    again = hugai(dev, "approvals", "approve", ids["reject"], "--reason", "changed my mind")
    assert again.returncode == 2 and f"{ids['reject']} was already rejected by" in again.stderr, again.stderr
    assert not (set(ids.values()) & waiting())
    unknown = hugai(dev, "approvals", "approve", "no-such-request", "--reason", "x")
    assert unknown.returncode == 2 and "no request 'no-such-request' is waiting" in unknown.stderr


def test_clickhouse_holds_the_breaker_transitions_the_audit_trail_and_why_each_request_went_where(two_workers):
    dev = two_workers
    dev.stop()  # the sink drains what is published and releases chdb's lock
    store = ChdbStore(dev.settings.chdb_path)
    try:
        transitions = [r["state"] for r in store.query(
            "SELECT state FROM breaker_events FINAL WHERE model = 'gpt-4-turbo' ORDER BY at")]
        audit = store.query("SELECT actor, command, target, reason FROM control_audit FINAL ORDER BY at")
        disabled = store.query("SELECT excluded, scores FROM routing_decisions FINAL WHERE request_id LIKE 'ctl-off-%'")
    finally:
        store.close()
    assert transitions == ["open", "half_open", "closed"]
    commands = [(r["actor"], r["command"], r["target"], r["reason"]) for r in audit]
    assert ("ops-ann", "disable_model", "gpt-4-turbo", "vendor incident 42") in commands
    assert any(c[1:3] == ("pin_task", "code_generation -> gemini-pro") for c in commands)
    assert ("lead-bo", "approve") in [(c[0], c[1]) for c in commands]
    assert {c[1] for c in commands} >= {"approval_requested", "reject", "breaker_open", "breaker_auto"}
    assert len(disabled) == 8
    assert all(row["excluded"] == {"gpt-4-turbo": "disabled by an operator"} for row in disabled)
    assert all(set(row["scores"]) >= {"gpt-4-turbo", "claude-3-5-sonnet"} for row in disabled)
