"""What each of the seed's compliance_requirements turns on, and the configs they forbid.

Each control names where it lives (in brackets), or says plainly what is still to come.
This module only names them and refuses configurations that would break them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from streams.config.schema import HugaiConfig

__all__ = ["CONTROLS", "active_controls", "compliance_problems"]

_METADATA_ONLY = "prompt and completion text never stored: request_logging must be metadata_only [streams/agents/records.py]"
_NO_KEYS = "provider keys never in logs, events, errors or tables [providers/, tested by the e2e suite]"

CONTROLS: dict[str, tuple[str, ...]] = {
    "GDPR_data_protection": (
        "per-request rows expire after data_retention, at most 7 days [analytics/retention.py]",
        "hugai-llm erase --tenant/--user deletes one subject's per-request rows [analytics/erase.py]",
        "rollups hold no subject, so erasure never needs them [analytics/migrations/0006_rollups.sql]",
    ),
    "SOC2_security_controls": (
        "operator commands are audited in control_audit (the table exists; the control topic that feeds it is "
        "still to come)",
        _NO_KEYS,
    ),
    "HIPAA_privacy_safeguards": (_METADATA_ONLY, "responses are cached only in this cluster's workers and Kafka, "
                                                 "and for no longer than data_retention [streams/agents/cache_gate.py]"),
    "PCI_DSS_payment_security": (_METADATA_ONLY, _NO_KEYS),
}
_MAX_RETENTION = timedelta(days=7)


def active_controls(config: HugaiConfig) -> dict[str, tuple[str, ...]]:
    return {req: CONTROLS[req] for req in config.security_configuration.compliance_requirements if req in CONTROLS}


def compliance_problems(config: HugaiConfig) -> Iterator[str]:
    security = config.security_configuration
    requirements = security.compliance_requirements
    for i, requirement in enumerate(requirements):
        if requirement not in CONTROLS:
            yield (f"security_configuration.compliance_requirements[{i}]: unknown requirement {requirement!r}; "
                   f"known: {', '.join(CONTROLS)}")
    strict = [r for r in ("HIPAA_privacy_safeguards", "PCI_DSS_payment_security") if r in requirements]
    if strict and security.data_protection.request_logging == "full":
        yield ("security_configuration.data_protection.request_logging: 'full' stores prompt and completion text, "
               f"which {' and '.join(strict)} forbid; use metadata_only")
    retention = security.data_protection.data_retention
    # A shared answer holds the response's text, kept in Kafka (llm.cache-entries, llm.idempotency-entries) for its ttl.
    for name in ("ttl", "idempotency_ttl"):
        kept = getattr(config.response_caching, name)
        if kept > retention:
            yield (f"response_caching.{name}: {_days(kept)} is longer than "
                   f"security_configuration.data_protection.data_retention ({_days(retention)}); cached answers "
                   "hold response text")
    if "GDPR_data_protection" in requirements and security.data_protection.data_retention > _MAX_RETENTION:
        days = security.data_protection.data_retention.total_seconds() / 86400
        yield (f"security_configuration.data_protection.data_retention: {days:g} days is longer than the 7 days "
               "GDPR_data_protection allows here")


def _days(span: timedelta) -> str:
    days = span.total_seconds() / 86400
    return f"{days:g} days" if days >= 1 else f"{span.total_seconds():g} s"
