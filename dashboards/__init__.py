"""Grafana dashboards and alerts as code: built into provisioning files, published with grafana-client.
May import analytics only."""

from dashboards.alerts import AlertRule, alert_rules
from dashboards.macros import expand
from dashboards.panels import Panel, realtime_panels, trend_panels
from dashboards.provisioning import alert_provisioning, build, dashboards

__all__ = [
    "AlertRule",
    "alert_rules",
    "expand",
    "Panel",
    "realtime_panels",
    "trend_panels",
    "alert_provisioning",
    "build",
    "dashboards",
]
