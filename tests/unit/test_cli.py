"""The command surface the README and the Makefile promise."""

import pytest
from typer.testing import CliRunner

from streams.cli import app

COMMANDS = [["dev"], ["worker"], ["sink"], ["report"], ["feedback"], ["erase"], ["send"], ["dashboards", "build"], ["dashboards", "publish"], ["kafka", "fetch"], ["config", "check"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_documented_command_exists(command):
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_config_check_reports_the_shipped_config():
    result = CliRunner().invoke(app, ["config", "check"])
    assert result.exit_code == 0 and "19 models, 6 task types" in result.output


def test_the_authorizer_enforces_roles_once_any_key_exists():
    from streams.ingress.auth import ApiKeys

    keys = ApiKeys([("analyst", ["analyst"], "k1"), ("operator", ["operator", "caller"], "k2")])
    check = keys.authorizer(open_when_empty=True)
    assert check("Bearer k1", "analyst") is None
    assert check("Bearer k1", "operator") == 403
    assert check("Bearer nope", "analyst") == 401 and check(None, "analyst") == 401
    assert check("Bearer k2", "caller") is None
    assert ApiKeys([]).authorizer(open_when_empty=True)(None, "operator") is None
    assert ApiKeys([]).authorizer(open_when_empty=False)(None, "operator") == 401
    assert "k1" not in repr(keys)


@pytest.mark.parametrize(("cache", "strategies"), [(False, []),
                                                   (True, ["cache_similar_requests", "implement_request_deduplication"])])
def test_the_bench_config_keeps_the_cache_only_when_asked(tmp_path, cache, strategies):
    from streams.cli.bench import bench_config
    from streams.config.loading import load_config

    config = load_config(bench_config(tmp_path, cache=cache))
    kept = [s for s in config.cost_controls.cost_optimization_strategies
            if s in ("cache_similar_requests", "implement_request_deduplication")]
    assert kept == strategies
    assert not any(spec.rate_limits for spec in config.providers.values())


def test_the_sink_flushes_as_often_by_default_however_it_is_started():
    from analytics.sink import FLUSH_EVERY_S, SinkConfig
    from streams.config.settings import Settings

    default = Settings.model_fields["hugai_sink_flush_s"].default  # the default, whatever this shell has set
    assert default == SinkConfig(bootstrap="x", topics=("t",)).max_batch_age_s == FLUSH_EVERY_S
