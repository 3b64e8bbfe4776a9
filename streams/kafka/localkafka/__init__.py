"""A real Apache Kafka broker for development and tests, from the official jars on Maven Central."""

from streams.kafka.localkafka.broker import KAFKA_VERSION, QUICK_JIT, KafkaStartError, LocalKafka, fetch_jars, free_port

__all__ = ["KAFKA_VERSION", "KafkaStartError", "LocalKafka", "QUICK_JIT", "fetch_jars", "free_port"]
