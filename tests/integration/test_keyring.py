"""Provider keys from env, files and AWS Secrets Manager (moto's local server), kept current without a restart."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from streams.agents.provider_directory import build_directory
from streams.app.key_upkeep import rotation_events
from streams.config import load_config
from streams.config.keyring import AwsSecret, KeyRing
from streams.config.settings import ProviderCredentials
from streams.kafka.localkafka import free_port
from tests.support.provider_server import ProviderServer

AWS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


@pytest.fixture(scope="module")
def secrets_manager():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client("secretsmanager", endpoint_url=f"http://{host}:{port}", **AWS)
    yield client
    server.stop()


def _credentials(**env: str) -> ProviderCredentials:
    return ProviderCredentials(**env)


def test_keys_come_from_the_secret_and_a_rotation_applies_without_a_restart(secrets_manager, tmp_path):
    secrets_manager.create_secret(Name="hugai/providers", SecretString=json.dumps({"ANTHROPIC_API_KEY": "sk-ant-v1"}))
    ring = KeyRing(_credentials(), aws=AwsSecret("hugai/providers", client=secrets_manager))
    assert ring.get("anthropic") is None, "nothing is fetched until refresh"
    assert ring.refresh() is True
    with ProviderServer() as server:
        async def call() -> list[str]:
            async with httpx.AsyncClient() as client:
                directory = build_directory(load_config(), _credentials(anthropic_base_url=server.root), client, ring)
                provider = directory.route("claude-3-haiku").provider
                from providers import ChatRequest, Message

                request = ChatRequest(model="claude-3-haiku-20240307", messages=(Message("user", "hi"),))
                await provider.infer(request)
                secrets_manager.put_secret_value(SecretId="hugai/providers",
                                                 SecretString=json.dumps({"ANTHROPIC_API_KEY": "sk-ant-v2"}))
                assert ring.refresh() is True
                await provider.infer(request)  # the same adapter object, the new key
                return server.auth_headers

        import asyncio

        headers = asyncio.run(call())
    assert headers == ["sk-ant-v1", "sk-ant-v2"]
    assert ring.refresh() is False, "an unchanged secret is not a change"


def test_the_environment_wins_then_the_file_then_the_secret(secrets_manager, tmp_path):
    secrets_manager.create_secret(Name="hugai/order", SecretString=json.dumps(
        {"OPENAI_API_KEY": "from-aws", "COHERE_API_KEY": "cohere-aws", "GOOGLE_API_KEY": "google-aws"}))
    key_file = tmp_path / "google"
    key_file.write_text("google-file\n")
    ring = KeyRing(_credentials(openai_api_key="from-env", google_api_key_file=str(key_file)),
                   aws=AwsSecret("hugai/order", client=secrets_manager))
    ring.refresh()
    assert (ring.get("openai"), ring.get("google"), ring.get("cohere")) == ("from-env", "google-file", "cohere-aws")


def test_a_key_file_is_reread_when_it_changes(tmp_path):
    key_file = tmp_path / "openai"
    key_file.write_text("first")
    ring = KeyRing(_credentials(openai_api_key_file=str(key_file)))
    source = ring.source("openai")
    assert source() == "first"
    key_file.write_text("second")
    os.utime(key_file, (time.time() + 5, time.time() + 5))  # a visibly newer mtime, whatever the clock's grain
    assert source() == "second"


def test_old_keys_are_reported_for_rotation_without_the_key(secrets_manager, tmp_path):
    old = tmp_path / "anthropic"
    old.write_text("sk-ant-old")
    hundred_days_ago = time.time() - 100 * 86400
    os.utime(old, (hundred_days_ago, hundred_days_ago))
    secrets_manager.create_secret(Name="hugai/fresh", SecretString=json.dumps({"COHERE_API_KEY": "c"}))
    ring = KeyRing(_credentials(openai_api_key="env-has-no-date", anthropic_api_key_file=str(old)),
                   aws=AwsSecret("hugai/fresh", client=secrets_manager))
    ring.refresh()
    events = rotation_events(ring, max_age=timedelta(days=90))
    assert [(e.family, e.source) for e in events] == [("anthropic", f"file:{old}")]
    assert 99.9 < events[0].age_days < 100.1 and events[0].max_age_days == 90
    assert "sk-ant-old" not in events[0].model_dump_json()
    assert {e.family for e in rotation_events(ring, max_age=timedelta(0))} == {"anthropic", "cohere"}


def test_an_unreadable_secret_says_so(secrets_manager):
    secrets_manager.create_secret(Name="hugai/broken", SecretString="not json")
    with pytest.raises(ValueError, match="hugai/broken is not a JSON object"):
        AwsSecret("hugai/broken", client=secrets_manager).refresh()
