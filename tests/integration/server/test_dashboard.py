"""The dashboard in a real headless Chromium against a real `dockyard server`, engine and registries:
log in, watch a run reach its manual gate live, approve it, see it reach production, see the three
environments side by side, promote and roll production back from its releases page, find the audit
rows; a read-only token sees no button and its forged POSTs are refused. Screenshots of each step
go to DOCKYARD_SCREENSHOTS (default: the test's temporary folder)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from tests.integration.server.browser import PHONE, WIDE, Browser, chromium
from tests.integration.server.conftest import DOCKYARD, ServedApp, Server, serving
from tests.ports import free_port

pytestmark = pytest.mark.integration

PIPELINE = """\
pipeline:
  branches: {main: [testing, staging, production]}
"""


@pytest.fixture(scope="module")
def served(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
           docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp]]:
    with serving(server_factory, tmp_path_factory.mktemp("apps"), docker_client_module,
                 {"replicas: 2": "replicas: 1"}, PIPELINE) as served_app:
        yield served_app


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(os.environ.get("DOCKYARD_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))


@pytest.fixture(scope="module")
def browser(shots: Path) -> Iterator[Browser]:
    with chromium(shots) as opened:
        yield opened


def token(server: Server, name: str, *scope: str) -> str:
    args = [a for s in scope for a in ("--scope", s)]
    return server.cli("token", "create", "--name", name, *args).stdout.strip()


def test_a_run_approved_in_the_browser_reaches_production_and_is_rolled_back(
        served: tuple[Server, ServedApp], browser: Browser) -> None:
    server, app = served
    name = app.app.name
    browser.open(server.url + "/runs")
    assert browser.driver.current_url.endswith("/login")  # no session: the log-in page
    browser.shot("login")
    browser.log_in(server.url, server.token)
    assert name in browser.text()

    # a run started by another token (four eyes: the one who approves did not start it)
    ci = token(server, "ci-bot", "trigger")
    started = httpx.post(server.url + "/api/runs", json={"app": name, "branch": "main"},
                         headers={"Authorization": f"Bearer {ci}"}, timeout=60)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    browser.open(f"{server.url}/runs/{run_id}")
    # its steps' output arrives while the page is open, then the page shows the gate's button
    browser.wait(lambda: "smoke ok" in browser.text(), "the smoke test's output, live", timeout=180)
    browser.wait(lambda: browser.find("#run-status").text == "waiting" and browser.has("#approve"),
                 "the run at its gate, with the approve button", timeout=120)
    # the gate's button says what it does (issue 27)
    assert browser.find("#approve").text == "Approve: promote to production"
    browser.shot("run-waiting")
    browser.find("#approve").click()
    # the page reloads and follows the run again: each earlier line once, not twice (issue 27)
    browser.wait(lambda: browser.find("#run-status").text in ("running", "succeeded"), "the run going on", 60)
    # read in one script: the page reloads itself at a new step, and an element read across that is stale
    shown = [text.splitlines() for text in browser.driver.execute_script(
        "return Array.from(document.querySelectorAll('pre[data-role=output]')).map(p => p.textContent)")]
    kept = httpx.get(f"{server.url}/api/runs/{run_id}", params={"output": "true"}, timeout=30,
                     headers={"Authorization": f"Bearer {server.token}"}).json()["steps"]
    for lines, step in zip(shown, kept, strict=True):  # what the page shows is what the run wrote so far
        assert lines == step["output"].splitlines()[:len(lines)], (lines, step["output"])
    assert sum(line.endswith(" smoke ok") for lines in shown for line in lines) in (2, 3)  # each smoke step's, once
    browser.wait(lambda: browser.find("#run-status").text == "succeeded", "the run to reach production", 240)
    assert "approved by tester-token" in browser.text()
    browser.shot("run-succeeded")

    # approving it again: the page says what did not happen, why, and links back to the run
    csrf = browser.find("input[name=csrf]").get_attribute("value")
    browser.submit_from_page(f"/runs/{run_id}/approve", {"csrf": csrf})
    browser.wait(lambda: "The approval did not happen" in browser.text(), "the failed action's page", 30)
    assert f"run {run_id} is not waiting for an approval (it is succeeded)" in browser.text(), browser.text()
    assert f"/runs/{run_id}" in browser.find("#back").get_attribute("href")  # the page it was posted from
    browser.shot("action-failed")
    browser.click("#back", accept=False)
    assert f"/runs/{run_id}" in browser.driver.current_url and "Run #" in browser.text()

    browser.open(f"{server.url}/apps/{name}")
    cards = browser.all("section.env")
    assert [c.get_attribute("data-env") for c in cards] == ["testing", "staging", "production"]
    for card in cards:
        assert "replicas: 1/1 healthy" in card.text and "revision" in card.text, card.text
    # one image along the path: each environment in sync with the one before it (issue 27)
    assert "in sync with testing" in cards[1].text and "in sync with staging" in cards[2].text
    tops = {round(c.rect["y"]) for c in cards}
    assert len(tops) == 1  # side by side at 1280 px
    browser.shot("environments")
    browser.driver.set_window_size(*PHONE)
    assert not browser.overflows()
    browser.shot("environments-phone", PHONE)

    # a configuration change, then staging's live release promoted to production: a second production
    # release (same image, new config revision), then rolled back
    server.cli("config", "set", "production", "GREETING=changed", cwd=app.app.path)
    browser.open(f"{server.url}/apps/{name}")
    production = browser.find("section.env[data-env=production]").text
    assert "configuration changed since its release" in production, production
    browser.open(f"{server.url}/apps/{name}/envs/staging/releases")
    browser.click("#promote")
    browser.wait(lambda: "Promoted." in browser.text(), "the promotion", timeout=180)
    assert browser.driver.current_url.endswith(f"/apps/{name}/envs/production/releases?done=promoted")
    rows = browser.all("table.releases tbody tr")
    assert len(rows) == 2 and "live" in rows[0].text and "promoted from staging" in rows[0].text
    browser.click("#rollback")
    browser.wait(lambda: "Rolled back." in browser.text(), "the rollback", timeout=180)
    rows = browser.all("table.releases tbody tr")
    releases = [r.find_element("css selector", "td:nth-child(2)").text for r in rows]
    statuses = [r.find_element("css selector", ".status").text for r in rows]
    # the first release (the old configuration) is live again, the promoted one is not
    assert statuses == ["live", "superseded", "superseded"] and releases[0] == releases[2] != releases[1], rows
    browser.shot("releases")

    # the config diff between the first two releases: the key set before the promotion
    diffs = browser.all("table.releases a[href*='/diff?new=']")
    diffs[-1].click()
    changed = browser.find("table.diff tbody tr.changed").text
    assert "GREETING" in changed and "hi" in changed and "changed" in changed, changed
    browser.shot("diff")

    browser.open(f"{server.url}/audit?target={name}/production")
    audit = browser.find("table.audit").text
    assert re.search(rf"tester-token dashboard \S+ rollback {re.escape(name)}/production ok", audit), audit
    browser.shot("audit")
    browser.open(server.url + "/audit")
    audit = browser.find("table.audit").text
    assert re.search(rf"tester-token dashboard \S+ promote {re.escape(name)}/staging ok", audit), audit
    assert re.search(rf"tester-token dashboard \S+ run approve run {run_id} ok", audit), audit

    # every page at a phone's width: nothing wider than the screen (tables scroll in their own box)
    browser.driver.set_window_size(*PHONE)
    for path in ("/", f"/apps/{name}/envs/production/releases", f"/runs/{run_id}", "/runs", "/audit", "/tokens"):
        browser.open(server.url + path)
        assert not browser.overflows(), path
    browser.driver.set_window_size(*WIDE)


def test_an_environments_charts_and_its_logs_live_from_the_hosts_agent(
        served: tuple[Server, ServedApp], browser: Browser) -> None:
    server, app = served
    name = app.app.name
    port = free_port()
    agent = subprocess.Popen([DOCKYARD, "agent", "--listen", f"127.0.0.1:{port}", "--interval", "0.5",
                              "--label", f"dockyard.app={name}"], env={**os.environ, **server.env},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settings = Path(server.env["DOCKYARD_HOME"]) / "settings.yml"
    settings.write_text(f"agent_url: http://127.0.0.1:{port}\n")  # read by the server at each page
    try:
        overview = httpx.get(f"{server.url}/api/apps/{name}/overview", timeout=30,
                             headers={"Authorization": f"Bearer {server.token}"}).json()
        production = next(e for e in overview["environments"] if e["name"] == "production")
        replica = production["replicas"][0]["url"]
        history: list = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and len(history) < 4:
            time.sleep(0.5)
            try:
                history = httpx.get(f"http://127.0.0.1:{port}/api/history", params={"env": "production"},
                                    timeout=2).json()
            except httpx.HTTPError:
                continue
        assert len(history) >= 4, history
        httpx.get(f"{replica}/cgi-bin/log?before-the-page", timeout=5)
        browser.open(f"{server.url}/apps/{name}/envs/production/metrics")
        charts = browser.all("section.chart")
        assert [c.get_attribute("data-metric") for c in charts] == [
            "CPU", "memory", "network in", "network out", "disk writes", "disk used"]
        memory = charts[1]
        assert f"{name}_production_web_1" in memory.text
        assert memory.find_elements("css selector", "svg polyline"), memory.get_attribute("innerHTML")[:500]
        browser.shot("metrics")

        browser.wait(lambda: (browser.open(f"{server.url}/apps/{name}/envs/production/logs?service=web")
                              or "logged before-the-page" in browser.find("#log-lines").text),
                     "the line logged before the page, in the search", timeout=40)
        browser.wait(lambda: "(following)" in browser.find("#tail-state").text, "the live tail", timeout=10)
        httpx.get(f"{replica}/cgi-bin/log?while-the-page-is-open", timeout=5)
        browser.wait(lambda: "logged while-the-page-is-open" in browser.find("#log-lines").text,
                     "the line logged while the page is open, live", timeout=40)
        browser.shot("logs")
    finally:
        settings.unlink()
        agent.terminate()
        agent.wait(timeout=20)


def test_a_read_only_token_sees_no_button_and_its_forged_posts_are_refused(
        served: tuple[Server, ServedApp], browser: Browser) -> None:
    server, app = served
    name = app.app.name
    browser.driver.delete_all_cookies()
    browser.log_in(server.url, token(server, "viewer", "read"))
    for path in (f"/apps/{name}/envs/production/releases", f"/apps/{name}/envs/staging/releases", "/runs"):
        browser.open(server.url + path)
        assert not browser.has("#rollback") and not browser.has("#promote") and not browser.has("#approve")
    assert "Audit" not in browser.find("header").text
    browser.open(f"{server.url}/apps/{name}/envs/production/releases")
    csrf = browser.find("input[name=csrf]").get_attribute("value")  # the log-out form's: a valid one
    assert csrf
    before = httpx.get(f"{server.url}/api/apps/{name}/releases/production",
                       headers={"Authorization": f"Bearer {server.token}"}).json()
    assert browser.post_from_page(f"/apps/{name}/envs/production/rollback", {"csrf": csrf}) == 403
    assert browser.post_from_page(f"/apps/{name}/envs/staging/promote", {"csrf": csrf}) == 403
    assert browser.post_from_page("/runs/1/cancel", {"csrf": csrf}) == 403
    browser.open(server.url + "/audit")
    assert "has no admin scope" in browser.text()
    browser.shot("read-only-refused")
    after = httpx.get(f"{server.url}/api/apps/{name}/releases/production",
                      headers={"Authorization": f"Bearer {server.token}"}).json()
    assert after == before  # nothing was deployed
    rows = httpx.get(server.url + "/api/audit", headers={"Authorization": f"Bearer {server.token}"}).json()["rows"]
    refused = [(r["actor"], r["action"], r["outcome"]) for r in rows if r["actor"] == "viewer"]
    assert ("viewer", "rollback", "refused: no deploy:production scope") in refused, refused


def test_forms_without_their_csrf_token_and_stale_sessions_are_refused(served: tuple[Server, ServedApp]) -> None:
    server, app = served
    name = app.app.name
    with httpx.Client(base_url=server.url) as client:
        login = client.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', login.text)
        assert nonce and login.headers["content-security-policy"].startswith("default-src 'self'")
        forged = client.post("/login", data={"nonce": "forged", "token": server.token})
        assert forged.status_code == 403 and "dockyard_session" not in forged.headers.get("set-cookie", "")
        nonce = re.search(r'name="nonce" value="([^"]+)"', forged.text)  # the refusal's form has a new one
        assert nonce
        refused = client.post("/login", data={"nonce": nonce.group(1), "token": "dy_unknown"})
        assert refused.status_code == 401 and "unknown, expired or revoked" in refused.text
        nonce = re.search(r'name="nonce" value="([^"]+)"', refused.text)
        assert nonce
        admin = token(server, "short-lived", "admin")
        logged_in = client.post("/login", data={"nonce": nonce.group(1), "token": admin})
        assert logged_in.status_code == 303
        cookie = logged_in.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain HTTP here
        before = client.get(f"/api/apps/{name}/releases/production", headers={"Authorization": f"Bearer {admin}"})
        for form in ({}, {"csrf": ""}, {"csrf": "not-the-one"}):
            response = client.post(f"/apps/{name}/envs/production/rollback", data=form)
            assert response.status_code == 403 and "CSRF" in response.text
        after = client.get(f"/api/apps/{name}/releases/production", headers={"Authorization": f"Bearer {admin}"})
        assert after.json() == before.json()
        assert client.get("/runs").status_code == 200
        server.cli("token", "revoke", "short-lived")
        ended = client.get("/runs")  # the session ends with its token
        assert ended.status_code == 303 and ended.headers["location"] == "/login"

        # a token whose time is up: its session ends, and it cannot log in again
        expiring = token(server, "expiring", "read")
        nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
        assert nonce and client.post("/login", data={"nonce": nonce.group(1), "token": expiring}).status_code == 303
        assert client.get("/runs").status_code == 200
        expire(server, "expiring")
        ended = client.get("/runs")
        assert ended.status_code == 303 and ended.headers["location"] == "/login"
        nonce = re.search(r'name="nonce" value="([^"]+)"', client.get("/login").text)
        assert nonce
        late = client.post("/login", data={"nonce": nonce.group(1), "token": expiring})
        assert late.status_code == 401 and "unknown, expired or revoked" in late.text
        assert "dockyard_session" not in late.headers.get("set-cookie", "") and expiring not in late.text


def expire(server: Server, name: str) -> None:
    """Move a token's expiry into the past, as the clock would (--expires is a minute at least)."""
    with sqlite3.connect(Path(server.env["DOCKYARD_HOME"]) / "state.db") as conn:
        assert conn.execute("UPDATE tokens SET expires_at=? WHERE name=?", (time.time() - 1, name)).rowcount == 1
