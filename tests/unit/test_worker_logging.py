"""The worker's log level is the one asked for: Faust's spinner must not lower the root logger to DEBUG."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import faust
import pytest

from streams.app.worker import _Worker


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield root
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def configured_level(worker_class: type[faust.Worker], level: str) -> int:
    app = faust.App("logging-test", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)
    loop = asyncio.new_event_loop()
    try:
        worker_class(app, loop=loop, loglevel=level, quiet=True)._setup_logging()
        return logging.getLogger("aiokafka").getEffectiveLevel()
    finally:
        loop.close()


@pytest.mark.parametrize(("asked", "expected"), [("warn", logging.WARNING), ("error", logging.ERROR),
                                                 ("info", logging.INFO)])
def test_the_level_asked_for_stands(root_logger, asked, expected):
    assert configured_level(_Worker, asked) == expected


def test_faust_own_worker_lowers_it_which_is_why_ours_exists(root_logger):
    # If a Faust release stops doing this, _Worker is no longer needed.
    assert configured_level(faust.Worker, "warn") == logging.DEBUG
