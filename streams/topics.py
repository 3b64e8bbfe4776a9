"""Topic names and their Faust declarations. Values are raw bytes: events.py owns the JSON."""

from __future__ import annotations

import faust

__all__ = ["REQUESTS", "RESPONSES", "TELEMETRY", "DLQ", "FEEDBACK", "CORE_TOPICS", "Topics"]

REQUESTS = "llm.requests"
RESPONSES = "llm.responses"
TELEMETRY = "llm.telemetry"
DLQ = "llm.requests.dlq"
FEEDBACK = "llm.feedback"
CORE_TOPICS = (REQUESTS, RESPONSES, TELEMETRY, DLQ, FEEDBACK)


class Topics:
    """The app's topics, plus reply topics created on first use and kept."""

    def __init__(self, app: faust.App):
        self._app = app
        self.requests = self._declare(REQUESTS)
        self.responses = self._declare(RESPONSES)
        self.telemetry = self._declare(TELEMETRY)
        self.dlq = self._declare(DLQ)
        self._replies: dict[str, faust.TopicT] = {RESPONSES: self.responses}

    def _declare(self, name: str) -> faust.TopicT:
        return self._app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def reply(self, name: str | None) -> faust.TopicT:
        """The topic a response goes to: the request's reply_to, else llm.responses."""
        name = name or RESPONSES
        if name not in self._replies:
            self._replies[name] = self._declare(name)
        return self._replies[name]
