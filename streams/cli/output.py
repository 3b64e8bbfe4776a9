"""What every command shares: where output goes, how a command fails, and reading settings and config."""

from __future__ import annotations

import signal
import sys

import typer
from rich.console import Console

from streams.config import ConfigError, HugaiConfig, load_config
from streams.config.settings import Settings

__all__ = ["console", "err", "read_settings", "fail", "config_or_fail", "sigterm_as_interrupt"]

# Tables stay readable when output goes to a file or CI log (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)


def read_settings() -> Settings:
    return Settings()


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as an error; raise what this returns to exit with `code` (2: bad usage, 1: a failure)."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def config_or_fail(settings: Settings) -> HugaiConfig:
    try:
        return load_config(settings.hugai_config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def sigterm_as_interrupt() -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
