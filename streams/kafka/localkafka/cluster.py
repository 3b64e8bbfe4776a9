"""Several local Kafka nodes as one KRaft cluster: each node is a broker and one of the controllers.

For tests of replication and broker loss, and for users who want to try the router on the shape
production runs (`hugai-llm kafka start --brokers 3`, `hugai-llm dev --brokers 3`). Kafka's own
topics get min(3, N) replicas; broker auto-create is off, as on most production clusters, so
nothing of ours may rely on it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

from streams.kafka.localkafka.broker import KafkaStartError, LocalKafka, port_open, free_port, new_cluster_id, reserve

__all__ = ["LocalKafkaCluster", "local_kafka"]


@dataclass
class LocalKafkaCluster:
    """`brokers` nodes under `data_dir` (node-1, node-2, ...). The first broker listens on `port`
    when given (the others on the next ports), else every port is a free one.

    The cluster id and ports are kept in `data_dir/cluster.json`, so a stopped cluster starts again
    with its data; a different number of brokers for the same directory is refused."""

    data_dir: Path
    cache_dir: Path
    brokers: int = 3
    port: int | None = None
    heap: str = "512m"
    properties: tuple[tuple[str, str], ...] = ()  # more broker properties for every node (LocalKafka)
    nodes: list[LocalKafka] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if self.brokers < 1:
            raise KafkaStartError(f"a cluster needs at least one broker, not {self.brokers}")
        layout = self._layout()
        voters = ",".join(f"{n['id']}@127.0.0.1:{n['controller_port']}" for n in layout["nodes"])
        self.nodes = [
            LocalKafka(data_dir=self.data_dir / f"node-{n['id']}", cache_dir=self.cache_dir, port=n["port"],
                       controller_port=n["controller_port"], heap=self.heap, node_id=n["id"], voters=voters,
                       cluster_id=layout["cluster_id"], replicas=min(3, self.brokers), auto_create_topics=False,
                       properties=self.properties)
            for n in layout["nodes"]
        ]

    def _layout(self) -> dict:
        path = self.data_dir / "cluster.json"
        if path.exists():
            layout = json.loads(path.read_text())
            if len(layout["nodes"]) != self.brokers:
                raise KafkaStartError(f"{self.data_dir} holds a cluster of {len(layout['nodes'])} brokers, not "
                                      f"{self.brokers}; start it with --brokers {len(layout['nodes'])} or use another "
                                      "data directory")
            return layout
        if self.port:
            ports = [self.port + i for i in range(self.brokers)]
            taken = [port for port in ports if port_open(port)]
            if taken:
                raise KafkaStartError(f"port(s) {', '.join(map(str, taken))} on 127.0.0.1 are in use; a cluster of "
                                      f"{self.brokers} brokers from port {self.port} needs {ports[0]}-{ports[-1]} free")
            reserve(ports)  # so that no controller is given one of them
        else:
            ports = [free_port() for _ in range(self.brokers)]
        layout = {"cluster_id": new_cluster_id(),
                  "nodes": [{"id": i, "port": ports[i - 1], "controller_port": free_port()}
                            for i in range(1, self.brokers + 1)]}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(layout, indent=2))
        return layout

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes if node.pid is not None]

    def start(self, *, timeout: float = 120.0) -> str:
        try:
            for node in self.nodes:
                node.launch()
            for node in self.nodes:
                node.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def node(self, node_id: int) -> LocalKafka:
        return self.nodes[node_id - 1]

    def kill(self, node_id: int) -> None:
        """kill -9 one node, as a lost machine would go."""
        self.node(node_id).kill()

    def restart(self, node_id: int, *, timeout: float = 90.0) -> None:
        self.node(node_id).start(timeout=timeout)

    def stop(self, *, timeout: float = 20.0) -> None:
        """SIGTERM to every node at once. One by one, the last node waited out its whole shutdown
        timeout (20 s): with a majority of controllers gone it cannot finish a controlled shutdown."""
        stopping = [threading.Thread(target=node.stop, kwargs={"timeout": timeout}) for node in self.nodes]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()

    def __enter__(self) -> LocalKafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_kafka(data_dir: Path, cache_dir: Path, *, brokers: int = 1, port: int | None = None) -> LocalKafka | LocalKafkaCluster:
    """The local Kafka `hugai-llm dev` and `hugai-llm kafka start` run: one node in `data_dir/kafka`
    (as before clusters existed, so its data stays), or `brokers` nodes in `data_dir/kafka-<n>-brokers`."""
    if brokers == 1:
        return LocalKafka(data_dir=data_dir / "kafka", cache_dir=cache_dir, port=port or 9092)
    return LocalKafkaCluster(data_dir=data_dir / f"kafka-{brokers}-brokers", cache_dir=cache_dir, brokers=brokers,
                             port=port)
