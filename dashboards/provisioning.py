"""Grafana provisioning, generated: the ClickHouse datasource, both dashboards, the alert rules,
a contact point and the notification policy. `build(out_dir, ...)` writes the files that
docker-compose mounts into Grafana; they are checked in, and a test keeps them in step with code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from dashboards.alerts import AlertRule, alert_rules
from dashboards.panels import Panel, realtime_panels, trend_panels

__all__ = ["DATASOURCE_UID", "DATASOURCE_TYPE", "FOLDER", "dashboards", "alert_provisioning", "build", "DEFAULT_OUT"]

DATASOURCE_UID = "hugai-clickhouse"
DATASOURCE_TYPE = "grafana-clickhouse-datasource"
DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
FOLDER = "hugai-llm"
DEFAULT_OUT = Path(__file__).resolve().parent / "provisioning"


def _target(panel: Panel) -> dict[str, Any]:
    return {
        "refId": "A",
        "datasource": DATASOURCE,
        "editorType": "sql",
        "format": 0 if panel.time_series else 1,  # the plugin's formats: 0 time series, 1 table
        "queryType": "timeseries" if panel.time_series else "table",
        "rawSql": panel.sql,
    }


def _panel(panel: Panel, panel_id: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": 12 * ((panel_id - 1) % 2), "y": 8 * ((panel_id - 1) // 2)},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [_target(panel)],
    }


def _dashboard(uid: str, title: str, panels: list[Panel], *, time_from: str, refresh: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["hugai-llm"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": time_from, "to": "now"},
        "refresh": refresh,
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": [_panel(p, i) for i, p in enumerate(panels, start=1)],
    }


def dashboards(daily_budgets: dict[str, Decimal]) -> dict[str, dict[str, Any]]:
    """file stem -> dashboard JSON."""
    return {
        "llm-realtime": _dashboard("hugai-llm-realtime", "LLM operations — real time", realtime_panels(daily_budgets),
                                   time_from="now-1h", refresh="10s"),
        "llm-trends": _dashboard("hugai-llm-trends", "LLM trends", trend_panels(), time_from="now-7d", refresh="5m"),
    }


def _rule(rule: AlertRule) -> dict[str, Any]:
    return {
        "uid": rule.uid,
        "title": rule.title,
        "condition": "C",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": 600, "to": 0}, "datasourceUid": DATASOURCE_UID,
             "model": {"refId": "A", "editorType": "sql", "format": 1, "queryType": "table", "rawSql": rule.sql}},
            {"refId": "B", "datasourceUid": "__expr__",
             "model": {"refId": "B", "type": "reduce", "expression": "A", "reducer": "last"}},
            {"refId": "C", "datasourceUid": "__expr__",
             "model": {"refId": "C", "type": "threshold", "expression": "B",
                       "conditions": [{"evaluator": {"type": rule.op, "params": [rule.threshold]}}]}},
        ],
        "noDataState": "OK",
        "execErrState": "Error",
        "for": rule.for_,
        "annotations": {"summary": rule.summary, "description": rule.description, "runbook_url": rule.runbook},
        "labels": {"severity": rule.severity, "service": "hugai-llm"},
    }


def alert_provisioning(daily_budgets: dict[str, Decimal], *, latency_target_ms: float = 10_000,
                       quality_drop: float = 0.5) -> dict[str, Any]:
    rules = alert_rules(daily_budgets, latency_target_ms=latency_target_ms, quality_drop=quality_drop)
    return {"apiVersion": 1, "groups": [
        {"orgId": 1, "name": "hugai-llm", "folder": FOLDER, "interval": "1m", "rules": [_rule(r) for r in rules]}]}


def _datasource() -> dict[str, Any]:
    return {"apiVersion": 1, "datasources": [{
        "name": "ClickHouse (hugai-llm)", "type": DATASOURCE_TYPE, "uid": DATASOURCE_UID, "isDefault": True,
        "jsonData": {"host": "${CLICKHOUSE_HOST}", "port": 9000, "protocol": "native", "username": "default",
                     "defaultDatabase": "default"},
        "secureJsonData": {"password": "${CLICKHOUSE_PASSWORD}"},
    }]}


def _contact_points() -> dict[str, Any]:
    return {"apiVersion": 1, "contactPoints": [{"orgId": 1, "name": "hugai-ops", "receivers": [
        {"uid": "hugai-ops-webhook", "type": "webhook", "settings": {"url": "${HUGAI_ALERT_WEBHOOK_URL}"}}]}]}


def _policies() -> dict[str, Any]:
    return {"apiVersion": 1, "policies": [{"orgId": 1, "receiver": "hugai-ops", "group_by": ["alertname", "severity"]}]}


def _dashboard_provider() -> dict[str, Any]:
    return {"apiVersion": 1, "providers": [{"name": "hugai-llm", "folder": FOLDER, "type": "file",
                                            "disableDeletion": False, "allowUiUpdates": False,
                                            "options": {"path": "/etc/grafana/provisioning/dashboards/json"}}]}


def build(daily_budgets: dict[str, Decimal], out_dir: Path = DEFAULT_OUT, *, latency_target_ms: float = 10_000,
          quality_drop: float = 0.5) -> list[Path]:
    """Write every provisioning file under out_dir; return their paths."""
    files: dict[str, str] = {
        "datasources/clickhouse.yaml": yaml.safe_dump(_datasource(), sort_keys=False),
        "dashboards/hugai-llm.yaml": yaml.safe_dump(_dashboard_provider(), sort_keys=False),
        "alerting/rules.yaml": yaml.safe_dump(alert_provisioning(daily_budgets, latency_target_ms=latency_target_ms, quality_drop=quality_drop),
                                              sort_keys=False, allow_unicode=True),
        "alerting/contact-points.yaml": yaml.safe_dump(_contact_points(), sort_keys=False),
        "alerting/policies.yaml": yaml.safe_dump(_policies(), sort_keys=False),
    }
    for stem, board in dashboards(daily_budgets).items():
        files[f"dashboards/json/{stem}.json"] = json.dumps(board, indent=2, ensure_ascii=False) + "\n"
    written = []
    for relative, text in files.items():
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
