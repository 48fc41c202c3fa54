"""A canary's Prometheus queries (issue 32) against a real Prometheus (Debian's), scraping a page of
numbers per release: each query asked for the canary and the stable release with `{release}`,
`{color}`, `{app}`, `{env}` and `{window}` filled in, judged by max and max_ratio; an empty answer,
a refused query and a Prometheus that does not answer are inconclusive or said, never a pass."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dockyard.deploy.rollout import ask_queries
from dockyard.monitor.prometheus import PrometheusUnavailable, query_number
from dockyard.plan.canary import Window, judge
from dockyard.spec.canary import AnalysisSpec
from tests.ports import free_port

pytestmark = pytest.mark.integration

PAGE = """\
# TYPE app_errors_total counter
app_errors_total{app="shop",env="live",release="r-canary",color="green"} 40
app_errors_total{app="shop",env="live",release="r-stable",color="blue"} 10
# TYPE app_queue_depth gauge
app_queue_depth{app="shop",env="live",color="green"} 7
app_queue_depth{app="shop",env="live",color="blue"} 6
"""


class Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("prometheus")
    page = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    port = free_port()
    config = root / "prometheus.yml"
    config.write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: app
    static_configs: [{{targets: ["127.0.0.1:{page.server_address[1]}"]}}]
""")
    log = (root / "prometheus.log").open("w")
    proc = subprocess.Popen(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                if query_number(url, 'app_errors_total{release="r-canary"}') is not None:
                    break
            except PrometheusUnavailable:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, Path(log.name).read_text()
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        page.shutdown()


SIDES = {"canary": ("r-canary", "green"), "stable": ("r-stable", "blue")}


def test_each_query_is_asked_for_both_releases_and_judged(prometheus: str) -> None:
    rules = AnalysisSpec.model_validate({"min_requests": 1, "queries": [
        {"name": "errors", "query": 'sum(app_errors_total{app="{app}",env="{env}",release="{release}"})',
         "max_ratio": 2},
        {"name": "queue", "query": 'max(app_queue_depth{app="{app}",env="{env}",color="{color}"})', "max": 10},
        {"name": "window", "query": 'sum(count_over_time(vector(1)[{window}:1s]))', "max": 1000},
        {"name": "missing", "query": 'app_errors_total{release="r-nowhere"}', "max": 1}]})
    measured = ask_queries(prometheus, rules.queries, "shop", "live", SIDES, window=12.4)
    assert measured["errors"] == (40.0, 10.0) and measured["queue"] == (7.0, 6.0)
    assert measured["missing"] == (None, None)  # nothing matched: no number
    assert measured["window"][0] in (12.0, 13.0)  # {window}: the step so far, 12 s
    window = Window.of([200] * 5, [3.0] * 5)
    verdict = judge(window, window, rules, measured=measured)
    assert (verdict.outcome, verdict.reasons) == ("fail", ("query errors: 40 is 4.00x the stable's 10 > 2x",))
    measured["errors"] = (12.0, 10.0)
    calm = judge(window, window, rules, measured=measured)  # an unanswered query is never a silent pass
    assert (calm.outcome, calm.reasons) == ("inconclusive", ("query missing: no answer of Prometheus yet",))


def test_a_refused_query_and_an_absent_prometheus_are_said(prometheus: str) -> None:
    with pytest.raises(PrometheusUnavailable, match="refused the query"):
        query_number(prometheus, "sum(")
    with pytest.raises(PrometheusUnavailable, match="did not answer"):
        query_number(f"http://127.0.0.1:{free_port()}", "up")
