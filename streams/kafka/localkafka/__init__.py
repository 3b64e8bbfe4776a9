"""The local Apache Kafka the project starts from its jars: one node, or a cluster of several."""

from streams.kafka.localkafka.broker import KAFKA_VERSION, QUICK_JIT, KafkaStartError, LocalKafka, fetch_jars, free_port
from streams.kafka.localkafka.cluster import LocalKafkaCluster, local_kafka

__all__ = ["KAFKA_VERSION", "KafkaStartError", "LocalKafka", "LocalKafkaCluster", "QUICK_JIT", "fetch_jars", "free_port",
           "local_kafka"]
