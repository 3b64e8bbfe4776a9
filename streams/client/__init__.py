"""The callers' side: ModelManager (the seed's client) and the reply topic it waits on.

Imports only the event contract, the config and Kafka plumbing: a service can use it without the router.
"""

from streams.client.model_manager import (
    BudgetExceeded,
    GenerationFailed,
    LLMError,
    ModelManager,
    RequestRejected,
    ResponseTimeout,
)

__all__ = ["ModelManager", "LLMError", "RequestRejected", "BudgetExceeded", "GenerationFailed", "ResponseTimeout"]
