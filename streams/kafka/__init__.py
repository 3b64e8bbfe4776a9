"""Kafka plumbing: topic declarations and creation, the answers' transactional outbox, the compacted
state topics every worker reads whole, and the local broker for dev and tests.

Knows topics and bytes, not routing: it imports only the event contract and the config.
"""
