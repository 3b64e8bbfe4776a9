"""Push the datasource, dashboards, alert rules, contact point and policy to a Grafana, idempotently:
everything is addressed by uid (or name), updated when present and created when not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from dashboards.alerts import alert_rules
from dashboards.provisioning import DATASOURCE_TYPE, DATASOURCE_UID, FOLDER, _rule, dashboards

__all__ = ["publish"]


def _exists(call) -> bool:  # noqa: ANN001
    try:
        call()
        return True
    except GrafanaClientError as exc:
        if exc.status_code == 404:
            return False
        raise


def publish(url: str, *, token: str | None, daily_budgets: dict[str, Decimal], clickhouse_host: str,
            clickhouse_password: str, webhook_url: str, latency_target_ms: float = 10_000,
            quality_drop: float = 0.5) -> dict[str, int]:
    api = GrafanaApi.from_url(url, credential=token) if token else GrafanaApi.from_url(url)
    datasource: dict[str, Any] = {
        "name": "ClickHouse (hugai-llm)", "type": DATASOURCE_TYPE, "uid": DATASOURCE_UID, "access": "proxy",
        "jsonData": {"host": clickhouse_host, "port": 9000, "protocol": "native", "username": "default",
                     "defaultDatabase": "default"},
        "secureJsonData": {"password": clickhouse_password},
    }
    if _exists(lambda: api.datasource.get_datasource_by_uid(DATASOURCE_UID)):
        api.datasource.update_datasource_by_uid(DATASOURCE_UID, datasource)
    else:
        api.datasource.create_datasource(datasource)
    if not _exists(lambda: api.folder.get_folder(FOLDER)):
        api.folder.create_folder(title="hugai-llm", uid=FOLDER)
    boards = dashboards(daily_budgets)
    for board in boards.values():
        api.dashboard.update_dashboard({"dashboard": board, "folderUid": FOLDER, "overwrite": True})
    rules = alert_rules(daily_budgets, latency_target_ms=latency_target_ms, quality_drop=quality_drop)
    for rule in rules:
        body = {**_rule(rule), "folderUID": FOLDER, "ruleGroup": "hugai-llm", "orgID": 1}
        if _exists(lambda uid=rule.uid: api.alertingprovisioning.get_alertrule(uid)):
            api.alertingprovisioning.update_alertrule(rule.uid, body)
        else:
            api.alertingprovisioning.create_alertrule(body)
    contact = {"uid": "hugai-ops-webhook", "name": "hugai-ops", "type": "webhook", "settings": {"url": webhook_url}}
    if any(cp.get("uid") == contact["uid"] for cp in api.alertingprovisioning.get_contactpoints(name="hugai-ops")):
        api.alertingprovisioning.update_contactpoint(contact["uid"], contact)
    else:
        api.alertingprovisioning.create_contactpoint(contact)
    api.alertingprovisioning.set_notification_policy_tree({"receiver": "hugai-ops", "group_by": ["alertname", "severity"]})
    return {"dashboards": len(boards), "alert_rules": len(rules), "datasources": 1, "contact_points": 1}
