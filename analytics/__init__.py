"""ClickHouse: the store, its migrations, and the sink that feeds it. Imports no other project folder."""

from analytics.migrate import apply_migrations, list_migrations
from analytics.sink import SinkConfig, TelemetrySink
from analytics.store import ChdbStore, ServerStore, Store, StoreError, open_store

__all__ = [
    "Store",
    "StoreError",
    "ChdbStore",
    "ServerStore",
    "open_store",
    "apply_migrations",
    "list_migrations",
    "SinkConfig",
    "TelemetrySink",
]
