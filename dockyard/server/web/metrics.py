"""The dashboard's metrics page of an environment: per-container charts from the host agent's
history (the last hour or day), and its alert events, firing and resolved: the agent's live ones
merged with the one outbox's (the alerts the server recorded, the edge's certificate problems)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dockyard.monitor.client import AgentUnavailable, agent_url, get_json
from dockyard.notify.listing import merge, recorded_alerts
from dockyard.pipeline.store import RunStore
from dockyard.server.deps import Db
from dockyard.server.web import charts
from dockyard.server.web.login import PageSession
from dockyard.server.web.render import page

router = APIRouter(include_in_schema=False)
SPANS = {"hour": 3600.0, "day": 86400.0}
EVENTS = 50  # the newest alerts shown


@router.get("/apps/{app}/envs/{env}/metrics")
def metrics(app: str, env: str, request: Request, db: Db, session: PageSession, span: str = "hour") -> Response:
    RunStore(db).app(app)  # 404 for an app that is not registered
    seconds = SPANS.get(span, SPANS["hour"])
    end = time.time()
    start = end - seconds
    agent = agent_url()
    try:
        rows = get_json(agent, "/api/history", {"since": seconds, "app": app, "env": env})
        live = get_json(agent, "/api/events", {"app": app, "env": env, "limit": EVENTS})
        error = None
    except AgentUnavailable as exc:
        rows, live, error = [], [], exc.message
    events = merge(recorded_alerts(db, app, env, EVENTS), live, EVENTS)
    drawn = []
    for metric in charts.METRICS:
        series = charts.by_container(rows, metric)
        drawn.append({"title": metric.title, "top": charts.top_value(series, metric, start, end),
                      "svg": charts.svg(series, metric, start, end), "legend": charts.legend(series)})
    return page(request, "metrics.html", session, app=app, env=env, span="day" if seconds == SPANS["day"] else "hour",
                charts=drawn, events=events, agent=agent, error=error, samples=len(rows))
