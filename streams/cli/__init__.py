"""The operator's side: the `hugai-llm` command, the local dev stack and the bench.

The composition root for processes: the only room that may import every other, and the only
one in streams that reads ClickHouse (analysis.py).
"""

from streams.cli.commands import app, main

__all__ = ["app", "main"]
