"""The worker process: the composition root for the Faust service. Wires config, providers and agents."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from functools import partial

import faust
from faust.types import TP

from providers import make_client
from streams.agents import RequestServer, register_router
from streams.agents.approvals import ApprovalGate
from streams.agents.breaker_keeper import register_breaker_keeper
from streams.agents.breakers import ClusterBreakers
from streams.agents.budget_gate import BudgetGate
from streams.agents.budget_keeper import register_budget_keeper
from streams.agents.cache_gate import CacheGate
from streams.agents.cluster_state import ClusterState
from streams.agents.model_listing import check_served_models
from streams.agents.records import LEVEL_RECORDS
from streams.agents.provider_directory import build_directory
from streams.agents.resilience import breaker_policy
from streams.agents.streaming import StreamCancels
from streams.app.faust_app import APP_ID, create_app
from streams.app.key_upkeep import register_key_upkeep
from streams.app.queue_sampler import register_queue_sampler
from streams.app.stacks import dump_stacks
from streams.config import HugaiConfig, load_config
from streams.config.keyring import KeyRing, aws_from_settings
from streams.config.settings import ProviderCredentials, Settings, read_secret_env
from streams.events import (
    ApprovalDecided,
    ApprovalRequested,
    BudgetDecision,
    BudgetRequest,
    BudgetState,
    ControlCommand,
    ModelHealth,
    ModelQuality,
    ModelOutcome,
    StreamCancel,
)
from streams.events.topic_names import (
    ANSWERED,
    APPROVALS,
    BUDGET,
    BUDGET_DECISIONS,
    BUDGET_STATE,
    CACHE_ENTRIES,
    CONTROL,
    DLQ,
    ENTRY_TOPICS,
    IDEMPOTENCY_ENTRIES,
    MODEL_HEALTH,
    MODEL_QUALITY,
    OUTCOMES,
    REQUESTS,
    STREAM_CANCELS,
    TELEMETRY,
)
from streams.ingress.auth import ApiKeys
from streams.ingress.http_api import register_http_api
from streams.kafka.broadcast import BroadcastReader
from streams.kafka.outbox import TransactionalOutbox
from streams.kafka.side_channel import SideChannel
from streams.kafka.state_io import read_partition
from streams.kafka.replication import Replication
from streams.kafka.topics import Topics, create_topics
from streams.routing.budgets import windows_for

__all__ = ["build_worker", "run_worker"]

log = logging.getLogger(__name__)

# How often each owned partition of llm.requests has its commit frontier looked at (TransactionalOutbox.unstick).
UNSTICK_EVERY_S = 5.0


def build_worker(settings: Settings, bootstrap: str, *, config: HugaiConfig | None = None,
                 replication: Replication = Replication(1, 1)) -> faust.App:
    config = config or load_config(settings.hugai_config)
    app = create_app(settings, bootstrap, replication)
    topics = Topics(app, bootstrap)
    client = make_client(
        connect_timeout=config.http.connect_timeout.total_seconds(), read_timeout=config.http.read_timeout.total_seconds(),
        # As many connections as calls the agent may have in flight: fewer would queue calls in the pool.
        max_connections=max(256, settings.hugai_agent_concurrency),
    )
    credentials = ProviderCredentials()
    keys_for_providers = KeyRing(credentials, aws=aws_from_settings(settings.hugai_aws_secret_id, settings.aws_endpoint_url))
    aws_error = _first_refresh(keys_for_providers)
    directory = build_directory(config, credentials, client, keys_for_providers)
    side = SideChannel(bootstrap)
    cancels = StreamCancels()
    state, approvals, budgets, cache, state_read = _cluster_state(app, topics, config, bootstrap, side, cancels)
    server = RequestServer(config=config, directory=directory, environment=settings.hugai_env, state=state,
                           monitoring_level=settings.hugai_monitoring_level,
                           approvals=approvals, budgets=budgets, cache=cache, cancels=cancels)
    unpriced = server.warm_up()
    keys = ApiKeys.from_specs(config.api_keys, read_secret_env)
    outbox = _outbox(app, bootstrap, cache)

    async def requests_partitions() -> int:
        return await side.partition_count(REQUESTS)

    register_router(app, topics, server, outbox, concurrency=settings.hugai_agent_concurrency, ready=state_read,
                    send_piece=side.send_later, partition_count=requests_partitions)
    register_breaker_keeper(app, topics, side, policy=breaker_policy(config))
    register_budget_keeper(app, topics, side, config)

    @app.task
    async def check_models() -> None:
        await state_read.wait()  # after the cluster's view of each model is read, so this one comes last
        missing = await check_served_models(directory, state.breakers)
        log.info("catalog models not served to our keys: %s", ", ".join(sorted(missing)) or "none")

    @app.task
    async def announce() -> None:
        # Logged from a task: Faust configures logging only when its worker starts.
        log.info("processing guarantee: %s", settings.hugai_processing_guarantee)
        log.info("monitoring level: %s (%s)", server.monitoring_level, LEVEL_RECORDS[server.monitoring_level])
        log.info("HTTP API keys configured: %d", len(keys))
        for family, served_by in sorted(directory.families().items()):
            log.info("provider family %s is served by %s", family, served_by)
        if unpriced:
            log.warning("no catalog price for %s; their calls are recorded at cost 0", ", ".join(unpriced))
        if aws_error:
            log.error("provider keys: AWS secret unreadable at start (%s); using environment and files", aws_error)

    if server.monitoring_level != "basic":  # queue-depth samples are detailed monitoring
        register_queue_sampler(app, topics, server, bootstrap=bootstrap, providers=sorted(directory.families()))
    register_key_upkeep(app, topics, keys_for_providers, settings=settings,
                        max_age=config.security_configuration.api_key_management.rotation_frequency)

    _add_health(app, outbox)
    _add_cluster_page(app, state, approvals, budgets, keys)

    @app.on_before_shutdown.connect
    async def _close_clients(sender: faust.App, **_: object) -> None:
        try:
            await budgets.give_back_all()  # before the side channel closes: leases are its messages
        except Exception as exc:  # noqa: BLE001 - not given back, the keeper releases them after HOLD_TTL_S
            log.warning("could not give the budget leases back: %s", type(exc).__name__)
        try:
            await state.breakers.flush()  # the gathered successes, also before the side channel closes
        except Exception as exc:  # noqa: BLE001 - the figures miss these calls; the breakers lose nothing
            log.warning("could not send the last call outcomes: %s", type(exc).__name__)
        await client.aclose()
        await side.close()
        await outbox.close()

    register_http_api(app, bootstrap=bootstrap, keys=keys, config=config)
    return app


def _outbox(app: faust.App, bootstrap: str, cache: CacheGate) -> TransactionalOutbox:
    def owns(partition: int) -> bool:
        return TP(REQUESTS, partition) in app.consumer.assignment()

    outbox = TransactionalOutbox(bootstrap, source_topic=REQUESTS, marker_topic=ANSWERED, group_id=APP_ID,
                                 owns=owns,
                                 same_partition=frozenset({TELEMETRY, DLQ, CACHE_ENTRIES, IDEMPOTENCY_ENTRIES}))
    app.committable_requests = outbox.committable  # the group commits llm.requests up to it (streams/app/faust_app.py)

    @app.on_partitions_revoked.connect
    async def _give_up(sender: faust.App, revoked: set[TP], **_: object) -> None:
        for tp in revoked:
            if tp.topic == REQUESTS:
                outbox.revoked(tp.partition)
                cache.revoked(tp.partition)

    @app.on_partitions_assigned.connect
    async def _take_over(sender: faust.App, assigned: set[TP], **_: object) -> None:
        # Fence the last owner now, so its unfinished transaction is aborted and stops holding back
        # readers, rather than when the partition's next request comes; then read its shared answers
        # back. Not awaited: a rebalance must not wait on it (lookups on the partition do).
        for tp in assigned:
            if tp.topic == REQUESTS:
                cache.assigned(tp.partition)
                app.add_future(take_over(tp.partition))

    async def take_over(partition: int) -> None:
        started = time.monotonic()
        try:
            await outbox.prepare(partition)
            # After the fencing, so the last owner's answers are all committed or aborted by the
            # time this read reaches the end (read_committed: aborted ones are never seen).
            records = await read_partition(bootstrap, ENTRY_TOPICS, partition)
        except Exception as exc:  # noqa: BLE001 - served without them: answers are made again, not lost
            log.error("could not read the shared answers of partition %d: %s", partition, type(exc).__name__)
            records = []
        kept = cache.load(partition, records)
        log.info("partition %d: %d shared answers read back in %.2f s", partition, kept, time.monotonic() - started)

    async def read_again(partition: int, offset: int) -> None:
        tp = TP(REQUESTS, partition)
        if tp in app.consumer.assignment():
            await app.consumer.seek(tp, offset)

    @app.timer(UNSTICK_EVERY_S)
    async def _unstick() -> None:
        for tp in app.consumer.assignment():
            if tp.topic == REQUESTS:
                try:
                    await outbox.unstick(tp.partition, read_again)
                except Exception as exc:  # noqa: BLE001 - looked at again at the next tick
                    log.warning("checking the commit of %s failed: %s", tp, type(exc).__name__)

    return outbox


def _cluster_state(app: faust.App, topics: Topics, config: HugaiConfig, bootstrap: str,
                   side: SideChannel, cancels: StreamCancels) -> tuple[ClusterState, ApprovalGate, BudgetGate, CacheGate, asyncio.Event]:
    """Breakers and figures from the keeper, operators' commands, approval decisions, budgets, callers
    that stopped reading a stream: kept current."""
    me = f"{socket.gethostname()}-{os.getpid()}"

    async def send_outcome(outcome: ModelOutcome) -> None:
        await side.send(OUTCOMES, outcome.model.encode(), outcome.to_bytes())

    async def publish_approval(request_id: str, event: ApprovalRequested | ApprovalDecided) -> None:
        await side.send(APPROVALS, request_id.encode(), event.to_bytes(), wait=True)

    async def ask_budget(request: BudgetRequest) -> None:
        await side.send(BUDGET, request.request_id.encode(), request.to_bytes())

    breakers = ClusterBreakers(breaker_policy(config), me=me, send=send_outcome)
    state = ClusterState(breakers)

    @app.timer(interval=ClusterBreakers.SUCCESSES_EVERY_S)
    async def send_successes() -> None:
        try:
            await breakers.flush()
        except Exception as exc:  # noqa: BLE001 - a timer that raises stops the whole app; the figures miss those calls
            log.warning("sending the gathered call outcomes failed: %s", type(exc).__name__)

    approvals = ApprovalGate(config.human_oversight, publish_approval)
    budgets = BudgetGate(me=me, send=ask_budget, windows=partial(windows_for, config))

    @app.timer(interval=1.0)
    async def look_after_leases() -> None:
        try:
            await budgets.tick()
        except Exception as exc:  # noqa: BLE001 - a timer that raises stops the whole app; tried again in 1 s
            log.warning("looking after the budget leases failed: %s", type(exc).__name__)

    cache = CacheGate(follow_timeout_s=config.response_caching.follow_timeout.total_seconds())

    def apply(topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        if topic == MODEL_HEALTH:
            state.apply_health(ModelHealth.model_validate_json(value))
        elif topic == MODEL_QUALITY:
            state.apply_quality(ModelQuality.model_validate_json(value))
        elif topic == CONTROL:
            command = ControlCommand.model_validate_json(value)
            state.apply_control(command)
            log.info("operator %s: %s %s (%s)", command.actor, command.action, command.target, command.reason)
        elif topic == APPROVALS and b'"approval_decided"' in value:
            approvals.apply(ApprovalDecided.model_validate_json(value))
        elif topic == BUDGET_STATE:
            budgets.apply_state(BudgetState.model_validate_json(value))
        elif topic == BUDGET_DECISIONS:
            budgets.apply_decision(BudgetDecision.model_validate_json(value))
        elif topic == STREAM_CANCELS:
            cancels.cancel(StreamCancel.model_validate_json(value).request_id)

    reader = BroadcastReader(bootstrap, [MODEL_HEALTH, MODEL_QUALITY, CONTROL, APPROVALS, BUDGET_STATE], apply)
    answers = BroadcastReader(bootstrap, [BUDGET_DECISIONS, STREAM_CANCELS], apply, from_end=True)
    ready = asyncio.Event()

    @app.task
    async def connect_side_channel() -> None:
        await side.start((REQUESTS, BUDGET, OUTCOMES, BUDGET_DECISIONS, BUDGET_STATE, MODEL_HEALTH))

    @app.task
    async def follow_cluster_state() -> None:
        await asyncio.gather(reader.run(), answers.run())

    @app.task
    async def both_ready() -> None:
        await reader.ready.wait()
        await answers.ready.wait()
        ready.set()

    @app.on_before_shutdown.connect
    async def _stop_readers(sender: faust.App, **_: object) -> None:
        reader.stop()
        answers.stop()

    return state, approvals, budgets, cache, ready


# A commit retried through a partition leader's move took 1-3 s on a 3-broker cluster; longer means
# this worker cannot publish answers (every broker away, or the cluster below min.insync.replicas).
ANSWERS_STUCK_S = 10.0


def _first_refresh(keys: KeyRing) -> str | None:
    """Load the AWS secret before the directory decides which families have keys."""
    try:
        keys.refresh()
    except Exception as exc:  # noqa: BLE001 - any AWS failure leaves the other sources working
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


def _add_health(app: faust.App, outbox: TransactionalOutbox) -> None:
    """GET /healthz, open to all: ready or not, and why not. Nothing of tenants or spend."""
    state = {"recovered": False, "ready": False}

    @app.on_rebalance_complete.connect
    async def _recovered(sender: faust.App, **_: object) -> None:
        state["recovered"] = True

    @app.page("/healthz")
    async def healthz(web, request):  # noqa: ANN001 - Faust's view signature
        # Faust signals the rebalance complete before it seeks the streams and resumes them. Ready
        # means serving, so the first rebalance must have ended too; later ones do not unready it.
        state["ready"] = state["ready"] or (state["recovered"] and not app.rebalancing)
        why = [] if state["ready"] else ["joining the consumer group and reading the cluster's state"]
        # A worker that cannot commit answers serves nothing, however it looks otherwise.
        why += outbox.trouble(longer_than_s=ANSWERS_STUCK_S)
        return web.json({"ready": not why, "why": why}, status=503 if why else 200)


def _add_cluster_page(app: faust.App, state: ClusterState, approvals: ApprovalGate, budgets: BudgetGate,
                      keys: ApiKeys) -> None:
    """What this worker believes of the cluster: for operators, and for tests that compare workers.

    It shows every tenant's budgets, spend, reservations and leases, so it takes an operator's or an
    analyst's key, as the sink's reports do (open only where no key is configured at all: a
    development machine's loopback)."""
    authorize = keys.authorizer(open_when_empty=True)

    @app.page("/cluster")
    async def cluster(web, request):  # noqa: ANN001 - Faust's view signature
        header = request.headers.get("Authorization")
        denied = authorize(header, "operator")
        if denied == 403:
            denied = authorize(header, "analyst")
        if denied is not None:
            message = ("missing or unknown API key; send 'Authorization: Bearer <key>'" if denied == 401
                       else "this key lacks the operator and analyst roles")
            return web.json({"error": {"message": message, "code": "invalid_api_key" if denied == 401
                                       else "insufficient_role"}}, status=denied)
        breakers = state.breakers
        overrides = state.overrides
        return web.json({
            "worker": breakers.me if isinstance(breakers, ClusterBreakers) else "local",
            "breakers": breakers.describe() if isinstance(breakers, ClusterBreakers) else {},
            "quality": state.describe_quality(),
            "overrides": {"forced_breakers": overrides.forced_breakers, "disabled_models": sorted(overrides.disabled_models),
                          "disabled_providers": sorted(overrides.disabled_providers), "pins": overrides.pins},
            "commands_applied": state.commands_applied,
            "approvals_waiting": approvals.waiting,
            "budgets": {key: {"budget": w.budget, "limit_usd": w.limit_usd, "spent_usd": w.spent_usd,
                              "reserved_usd": w.reserved_usd} for key, w in budgets.windows.items()},
            "budget_reservations": budgets.wait_summary(),
            "budget_leases": budgets.leases(),
        })


class _Worker(faust.Worker):
    """Faust's worker without its terminal spinner, and with a stack dump that prints no variables.

    At warn and above, Faust sets the root logger to DEBUG so that every record turns the spinner:
    aiokafka's and Faust's debug records were then built and thrown away, 5-8% of the worker's CPU
    in `hugai-llm bench` (py-spy). The level asked for is the level that stands.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None

    def _on_sigusr1(self) -> None:
        """`kill -USR1 <pid>`: where every thread and task waits, on stderr; without local variables,
        which mode's own dump prints and which may hold provider keys (streams/app/stacks.py)."""
        dump_stacks(sys.stderr, self.loop)


def run_worker(settings: Settings, bootstrap: str) -> None:
    """Run until SIGTERM or Ctrl-C. Topics are created first: Faust only creates its own."""
    config = load_config(settings.hugai_config)
    # Faust's worker uses the current event loop, so prepare topics on that same loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    topics = loop.run_until_complete(create_topics(bootstrap, partitions=settings.hugai_partitions,
                                                   caching=config.response_caching))
    app = build_worker(settings, bootstrap, config=config, replication=topics.replication)
    worker = _Worker(app, loop=loop, loglevel=settings.hugai_log_level, quiet=True)
    worker.execute_from_commandline()
