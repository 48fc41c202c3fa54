from __future__ import annotations

from dockyard.notify.alerts import alert_events


def row(started: float, ended: float | None, app: str | None = "shop") -> dict:
    return {"rule": "memory>90%", "container": "shop_production_web_1", "app": app, "env": "production",
            "service": "web", "host": "h1", "started_at": started, "ended_at": ended, "message": "memory 95%"}


def test_alerts_fire_and_resolve_once_each_and_history_is_not_news() -> None:
    events = alert_events([row(1000.0, 1030.0), row(1100.0, None), row(500.0, 1020.0), row(100.0, 200.0),
                           row(1000.0, None, app=None)], since=1000.0)
    assert [(e.kind, e.id, e.at) for e in events] == [
        ("alert.firing", "alert:shop:production:memory>90%:shop_production_web_1:1000.000:firing", 1000.0),
        ("alert.resolved", "alert:shop:production:memory>90%:shop_production_web_1:1000.000:resolved", 1030.0),
        ("alert.firing", "alert:shop:production:memory>90%:shop_production_web_1:1100.000:firing", 1100.0),
        ("alert.resolved", "alert:shop:production:memory>90%:shop_production_web_1:500.000:resolved", 1020.0)]
    assert events[0].text == "FIRING memory>90% on shop_production_web_1: memory 95%"
    assert events[0].data["host"] == "h1" and events[1].text == "resolved memory>90% on shop_production_web_1"
