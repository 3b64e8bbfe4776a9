"""`hugai-llm config check --models` as an operator runs it: each catalog model against its provider's list."""

from __future__ import annotations

import os
import subprocess
import sys

from streams.config import load_config
from tests.support.provider_server import ProviderServer


def test_config_check_models_names_what_a_key_cannot_call_and_fails():
    openai_ids = {spec.api_model for spec in load_config().models.values() if spec.provider == "openai"}
    with ProviderServer() as server:
        server.served_models = openai_ids - {"gpt-5.6-terra"}
        env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
        env |= {"OPENAI_API_KEY": "sk-listing-test", "OPENAI_BASE_URL": server.base_url}
        done = subprocess.run([sys.executable, "-m", "streams.cli", "config", "check", "--models"], env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") >= 4}
    assert "NOT SERVED" in rows["gpt-3.5-turbo"]
    assert "not served: gpt-3.5-turbo (openai does not list gpt-5.6-terra for this key)" in done.stdout.splitlines()
    assert "served" in rows["gpt-4-turbo"] and "NOT" not in rows["gpt-4-turbo"]
    assert "not checked: anthropic has no key" in rows["claude-3-haiku"]
    assert "sk-listing-test" not in done.stdout + done.stderr
