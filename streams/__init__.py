"""The Faust service that routes LLM requests. May import providers; cli.py may import every folder."""

__all__: list[str] = []
