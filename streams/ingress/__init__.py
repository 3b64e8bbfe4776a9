"""Where requests come in besides Kafka itself: the OpenAI-compatible HTTP endpoint, its wire format, and API keys."""
