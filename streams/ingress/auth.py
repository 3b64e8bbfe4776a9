"""API keys with roles, for role_based access_control. Keys are compared by digest, never logged.

Roles: caller (send requests), operator (control and approvals), analyst (reports).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Principal", "ApiKeys", "ROLES", "read_key", "key_for_role"]

ROLES = ("caller", "operator", "analyst")


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    roles: frozenset[str]

    def may(self, role: str) -> bool:
        return role in self.roles


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    def __init__(self, entries: Iterable[tuple[str, Iterable[str], str]]):
        self._by_digest = [(_digest(key), Principal(name, frozenset(roles))) for name, roles, key in entries if key]

    @classmethod
    def from_specs(cls, specs: Iterable, read_env: Callable[[str], str | None]) -> ApiKeys:  # noqa: ANN001
        """Specs name where each key lives: an environment variable or a file. Absent sources are skipped."""
        return cls((spec.name, spec.roles, key) for spec in specs if (key := read_key(spec, read_env)))

    def authorizer(self, *, open_when_empty: bool) -> Callable[[str | None, str], int | None]:
        """None to allow, 401 or 403 to refuse. With no keys configured and open_when_empty, allow all
        (for endpoints bound to loopback on a development machine)."""

        def authorize(header: str | None, role: str) -> int | None:
            if open_when_empty and not self._by_digest:
                return None
            principal = self.authenticate(header)
            if principal is None:
                return 401
            return None if principal.may(role) else 403

        return authorize

    def __len__(self) -> int:
        return len(self._by_digest)

    def __repr__(self) -> str:
        return f"ApiKeys({[p.name for _, p in self._by_digest]})"

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal for 'Authorization: Bearer <key>', or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        offered = _digest(authorization.removeprefix("Bearer ").strip())
        found = None
        for digest, principal in self._by_digest:
            if hmac.compare_digest(digest, offered):  # keep comparing: timing says nothing
                found = principal
        return found


def read_key(spec, read_env: Callable[[str], str | None]) -> str | None:  # noqa: ANN001 - an ApiKeySpec
    if spec.key_env:
        return read_env(spec.key_env)
    if spec.key_file and Path(spec.key_file).exists():
        return Path(spec.key_file).read_text().strip() or None
    return None


def key_for_role(specs: Iterable, role: str, read_env: Callable[[str], str | None]) -> str | None:
    """The first configured key that carries `role`, for a client (the CLI) to present."""
    for spec in specs:
        if role in spec.roles and (key := read_key(spec, read_env)):
            return key
    return None
