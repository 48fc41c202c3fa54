"""One instant query of the site's Prometheus (its HTTP API, GET /api/v1/query): one number.

For a canary's `queries:` (deploy/rollout.py). The server's address is the site's setting
(`prometheus_url`, DOCKYARD_PROMETHEUS), never a commit's: a commit says what is asked, not where."""

from __future__ import annotations

import math

import httpx

from dockyard.errors import DockyardError


class PrometheusUnavailable(DockyardError):
    pass


def query_number(url: str, promql: str, timeout: float = 5.0) -> float | None:
    """The query's number now: a scalar, or the first sample of an instant vector; None for an empty
    answer (nothing matched yet) or NaN. A failure to ask raises PrometheusUnavailable."""
    try:
        answer = httpx.get(url.rstrip("/") + "/api/v1/query", params={"query": promql}, timeout=timeout)
        body = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise PrometheusUnavailable(f"Prometheus at {url} did not answer: {exc or type(exc).__name__}",
                                    hint="check prometheus_url in the site's settings") from exc
    if answer.status_code != 200 or body.get("status") != "success":
        raise PrometheusUnavailable(f"Prometheus at {url} refused the query {promql!r}: "
                                    f"{body.get('error') or answer.status_code}", hint="fix the query in dockyard.yml")
    data = body.get("data") or {}
    result = data.get("result")
    if data.get("resultType") == "scalar":
        value = result[1] if isinstance(result, list) and len(result) == 2 else None
    elif isinstance(result, list) and result:
        value = (result[0].get("value") or [None, None])[1]
    else:
        return None
    try:
        number = float(str(value))
    except ValueError:
        return None
    return None if math.isnan(number) else number
