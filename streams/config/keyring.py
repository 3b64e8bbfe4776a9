"""Provider API keys from their sources, kept current without a restart.

Per family, the first source that has a key wins:
  1. the environment variable (<FAMILY>_API_KEY)       fixed for the life of the process
  2. the file it names (<FAMILY>_API_KEY_FILE)          re-read whenever its mtime changes
  3. an AWS Secrets Manager secret (HUGAI_AWS_SECRET_ID) a JSON object such as {"OPENAI_API_KEY": "..."},
                                                         re-fetched by refresh(), never on the request path
A key older than security_configuration.api_key_management.rotation_frequency is reported by
rotation_due(): files by their mtime, the secret by its last change. Environment variables carry
no date, so they are never reported. No method here returns or logs a key except source().
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from providers import KeySource
from streams.config.settings import ProviderCredentials

__all__ = ["KeyRing", "AwsSecret", "RotationDue", "aws_from_settings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RotationDue:
    family: str
    source: str  # "file:<path>" or "aws:<secret id>"
    age: timedelta


class _FileKey:
    def __init__(self, path: Path):
        self.path = path
        self._mtime: float | None = None
        self._value: str | None = None

    def get(self) -> str | None:
        try:
            mtime = self.path.stat().st_mtime
        except OSError:
            return None
        if mtime != self._mtime:
            self._value = self.path.read_text(encoding="utf-8").strip() or None
            self._mtime = mtime
        return self._value

    def changed_at(self) -> datetime | None:
        try:
            return datetime.fromtimestamp(self.path.stat().st_mtime, tz=timezone.utc)
        except OSError:
            return None


class AwsSecret:
    """One Secrets Manager secret holding every family's key, through boto3."""

    def __init__(self, secret_id: str, *, client: Any = None, endpoint_url: str | None = None):
        if client is None:
            import boto3

            client = boto3.client("secretsmanager", endpoint_url=endpoint_url)
        self.secret_id = secret_id
        self._client = client
        self._values: dict[str, str] = {}
        self.changed_at: datetime | None = None

    def refresh(self) -> bool:
        """Fetch the secret now (blocking; call from a thread). True if its value changed."""
        raw = self._client.get_secret_value(SecretId=self.secret_id)["SecretString"]
        try:
            values = json.loads(raw)
        except ValueError:
            raise ValueError(f"secret {self.secret_id} is not a JSON object of keys") from None
        meta = self._client.describe_secret(SecretId=self.secret_id)
        self.changed_at = meta.get("LastChangedDate") or meta.get("CreatedDate")
        changed = values != self._values
        self._values = {k: str(v) for k, v in values.items() if v}
        return changed

    def get(self, name: str) -> str | None:
        return self._values.get(name)


class KeyRing:
    def __init__(self, credentials: ProviderCredentials, *, aws: AwsSecret | None = None):
        self._credentials = credentials
        self._aws = aws
        self._files: dict[str, _FileKey] = {}
        for family in ("openai", "anthropic", "google", "cohere", "local"):
            path = getattr(credentials, f"{family}_api_key_file", None)
            if path is not None:
                self._files[family] = _FileKey(Path(path))

    def _env(self, family: str) -> str | None:
        key = getattr(self._credentials, f"{family}_api_key", None)
        return key.get_secret_value() if key is not None and key.get_secret_value() else None

    def get(self, family: str) -> str | None:
        if key := self._env(family):
            return key
        if family in self._files and (key := self._files[family].get()):
            return key
        if self._aws is not None:
            return self._aws.get(f"{family.upper()}_API_KEY")
        return None

    def source(self, family: str) -> KeySource:
        """What an adapter calls for its key on every request."""
        return lambda: self.get(family)

    def has_key(self, family: str) -> bool:
        return self.get(family) is not None

    def refresh(self) -> bool:
        """Re-fetch the AWS secret (blocking). Files need no refresh: they are checked on use."""
        if self._aws is None:
            return False
        changed = self._aws.refresh()
        if changed:
            log.info("provider keys reloaded from AWS secret %s", self._aws.secret_id)
        return changed

    def rotation_due(self, *, max_age: timedelta, now: datetime) -> list[RotationDue]:
        due = []
        for family in ("openai", "anthropic", "google", "cohere", "local"):
            if self._env(family):
                continue  # no date to judge by
            file = self._files.get(family)
            if file is not None and file.get():
                when, source = file.changed_at(), f"file:{file.path}"
            elif self._aws is not None and self._aws.get(f"{family.upper()}_API_KEY"):
                when, source = self._aws.changed_at, f"aws:{self._aws.secret_id}"
            else:
                continue
            if when is not None and now - when > max_age:
                due.append(RotationDue(family, source, now - when))
        return due


def aws_from_settings(secret_id: str | None, endpoint_url: str | None) -> AwsSecret | None:
    return AwsSecret(secret_id, endpoint_url=endpoint_url) if secret_id else None

