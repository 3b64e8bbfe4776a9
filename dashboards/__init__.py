"""Grafana dashboards and alerts as code (built in a later issue). May import analytics only."""

__all__: list[str] = []
