"""The router service, in rooms whose imports point one way (tests/unit/test_architecture.py):

    cli      the hugai-llm command, the dev stack, the bench          may import every room
    app      the worker process: the Faust app and its wiring          -> agents, ingress, client, kafka, ...
    agents   Faust agents and keepers, and the gates serve() passes    -> routing, kafka, config, events
    ingress  the OpenAI-compatible HTTP endpoint and API keys          -> client, routing, config, events
    client   ModelManager and the reply topic it waits on              -> kafka, routing, config, events
    kafka    topics, the answers' outbox, state topics, local broker  -> config, events
    routing  the pure decisions: policy, scoring, breakers, budgets   -> config, events
    config   the seed's YAML, the environment, units, provider keys
    events   the wire events and the topics they travel on

A request's path, top to bottom: it arrives on llm.requests (from a service, client/ or
ingress/), the worker (app/) hands it to the request agent (agents/router.py), which plans it
with routing/ and serves it through the gates and providers/ (agents/serve.py), and publishes
the answer through kafka/outbox.py.
"""

__all__: list[str] = []
