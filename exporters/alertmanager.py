"""An Alertmanager configuration to start from: each responsible unit gets its own receiver.

KPI data changes once a month, so a firing KPI alert is repeated weekly, not every few
hours; kpiwatch's own trouble goes to the KPI office and repeats sooner.
"""

from __future__ import annotations

from typing import Any

FORECAST_ALERTS = "KpiForecastShortfall|KpiForecastAtRisk"
ESCALATED = "KpiEscalationTalk|KpiEscalationAccountability"


def example(owners: list[str]) -> dict[str, Any]:
    """The example config: routes by owner, inhibit rules, placeholder e-mail addresses."""
    receivers: list[dict[str, Any]] = [_email("kpi-office"), _email("supervision")]
    routes: list[dict[str, Any]] = [
        {
            "matchers": ['alertname=~"Kpiwatch.*"'],
            "receiver": "kpi-office",
            "group_by": ["alertname", "job", "instance"],
            "repeat_interval": "4h",
        },
        # example figures are the KPI office's business, never a responsible unit's page
        {"matchers": ['illustrative="true"'], "receiver": "kpi-office"},
        # a unit summoned (约谈) or held to account (问责) concerns the supervision office
        # too; the route goes on to the unit's own receiver
        {"matchers": [f'alertname=~"{ESCALATED}"'], "receiver": "supervision", "continue": True},
    ]
    for n, owner in enumerate(sorted({o for o in owners if o})):
        name = f"owner-{n + 1}"
        receivers.append(_email(name))
        routes.append({"matchers": [f'owner="{_quoted(owner)}"'], "receiver": name})
    return {
        "global": {
            "smtp_smarthost": "smtp.example.org:587",
            "smtp_from": "kpiwatch@example.org",
        },
        "route": {
            "receiver": "kpi-office",
            "group_by": ["alertname", "job", "owner"],
            "group_wait": "1m",
            "group_interval": "1h",
            # monthly data: a weekly reminder (keep Alertmanager's --data.retention longer)
            "repeat_interval": "168h",
            "routes": routes,
        },
        "inhibit_rules": [
            {  # forecasts from data that is late say nothing new: the stale alert says why
                "source_matchers": ['alertname="KpiDataStale"'],
                "target_matchers": [f'alertname=~"{FORECAST_ALERTS}"'],
                "equal": ["job", "indicator", "region"],
            },
        ],
        "receivers": receivers,
    }


def _email(name: str) -> dict[str, Any]:
    return {"name": name, "email_configs": [{"to": f"{name}@example.org"}]}


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
