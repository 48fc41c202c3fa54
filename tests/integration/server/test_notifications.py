"""Notifications for real: a `dockyard server` whose pipeline run reaches a gate, is approved and
reaches production, while its webhook receiver answers 503 for the first 60 s, its SMTP server is
not up yet, and the server itself is killed with SIGKILL in between. Every event arrives exactly
once per channel: each delivery key is taken (answered 2xx / 250) once. Then an alert of the host's
agent (a real `dockyard agent`, a container of the app's stopped and started) fires and resolves."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from aiosmtpd.controller import Controller

from dockyard.notify.deliver import Deliverer
from dockyard.notify.model import Event
from dockyard.notify.store import Outbox
from dockyard.state.db import StateDB
from tests.conftest import run_cli
from tests.integration.server.conftest import DOCKYARD, ServedApp, Server, serving
from tests.json_schemas import check
from tests.ports import free_port

pytestmark = pytest.mark.integration

PIPELINE = """\
pipeline:
  branches: {main: [testing, staging, production]}
"""
DOWN_FOR = 60.0
HMAC_KEY = b"notify-test-key"


@dataclass
class Receiver:
    """An HTTP receiver that answers 503 until `opens_at`, then 200; it keeps every request."""

    opens_at: float
    seen: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                payload = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = 200 if time.monotonic() >= receiver.opens_at else 503
                receiver.seen.append({"path": self.path, "key": self.headers.get("Idempotency-Key"),
                                      "signature": self.headers.get("X-Dockyard-Signature"), "body": payload,
                                      "status": status})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def taken(self, path: str) -> Counter[str]:
        return Counter(r["key"] for r in self.seen if r["path"] == path and r["status"] == 200)


class Mailbox:
    """An SMTP server's handler; `refuse`: every recipient (True) or these addresses."""

    def __init__(self, refuse: bool | set[str] = False) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.refuse = refuse

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if self.refuse is True or (isinstance(self.refuse, set) and address in self.refuse):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


def settings_yml(receiver: Receiver, smtp_port: int, key_file: Path) -> str:
    return f"""\
notifications:
  channels:
    hook: {{type: webhook, url: "{receiver.url}/hook", secret_file: "{key_file}"}}
    chat: {{type: slack, url: "{receiver.url}/slack"}}
    mail: {{type: email, smtp: "127.0.0.1:{smtp_port}", from: dockyard@example.test, to: [ops@example.test]}}
  routes:
    - {{channel: hook}}
    - {{channel: chat}}
    - {{channel: mail}}
"""


@pytest.fixture(scope="module")
def notified(server_factory: Server, tmp_path_factory: pytest.TempPathFactory,
             docker_client_module: docker.DockerClient) -> Iterator[tuple[Server, ServedApp, Receiver, int]]:
    root = tmp_path_factory.mktemp("notify")
    key_file = root / "hook.key"
    key_file.write_bytes(HMAC_KEY)
    key_file.chmod(0o600)
    receiver = Receiver(opens_at=time.monotonic() + 10_000)  # opened by the test
    smtp_port = free_port()
    home = Path(server_factory.env["DOCKYARD_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.yml").write_text(settings_yml(receiver, smtp_port, key_file))
    with serving(server_factory, root, docker_client_module, {"replicas: 2": "replicas: 1"}, PIPELINE) as served:
        yield served[0], served[1], receiver, smtp_port
    receiver.http.shutdown()


def outbox(server: Server) -> list[dict[str, Any]]:
    return json.loads(server.cli("notify", "ls", "--json", "--limit", "100").stdout)


def test_every_event_arrives_once_per_channel_through_a_down_receiver_and_a_killed_server(
        notified: tuple[Server, ServedApp, Receiver, int]) -> None:
    server, app, receiver, smtp_port = notified
    receiver.opens_at = time.monotonic() + DOWN_FOR
    ci = server.cli("token", "create", "--name", "notify-ci", "--scope", "trigger").stdout.strip()
    started = httpx.post(server.url + "/api/runs", json={"app": app.app.name, "branch": "main"},
                         headers={"Authorization": f"Bearer {ci}"}, timeout=60)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    server.wait_run(run_id, until=("waiting",))
    deadline = time.monotonic() + 30  # the server has tried (and failed) each delivery at least once
    while time.monotonic() < deadline and not all(d["attempts"] for d in outbox(server)):
        time.sleep(0.5)
    before_kill = outbox(server)
    assert len(before_kill) == 9 and all(d["attempts"] >= 1 and d["delivered_at"] is None for d in before_kill)
    assert {r["status"] for r in receiver.seen} == {503}

    server.kill9()
    server.start()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        with server.client() as client:
            assert client.post(f"/api/runs/{run_id}/approve").status_code == 200
        server.wait_run(run_id, until=("succeeded",), timeout=180)
        deadline = time.monotonic() + DOWN_FOR + 150
        while time.monotonic() < deadline:
            rows = outbox(server)
            if len(rows) == 15 and all(d["delivered_at"] for d in rows):
                break
            time.sleep(1)
        else:
            raise AssertionError(f"not all delivered: {rows}")
    finally:
        smtp.stop()

    name = app.app.name
    events = sorted((d["event"], d["env"]) for d in rows if d["channel"] == "hook")
    assert events == [("deployed", "production"), ("deployed", "staging"), ("deployed", "testing"),
                      ("run.succeeded", "production"), ("run.waiting", "staging")]
    for channel, path in (("hook", "/hook"), ("chat", "/slack")):
        keys = {d["key"] for d in rows if d["channel"] == channel}
        assert receiver.taken(path) == Counter(dict.fromkeys(keys, 1)), (channel, receiver.taken(path))
    refused = [r for r in receiver.seen if r["status"] == 503]
    assert refused and all(r["path"] in ("/hook", "/slack") for r in refused)
    for request in (r for r in receiver.seen if r["path"] == "/hook"):
        expected = "sha256=" + hmac.new(HMAC_KEY, request["body"], hashlib.sha256).hexdigest()
        assert request["signature"] == expected
        assert json.loads(request["body"])["id"] == request["key"] and json.loads(request["body"])["app"] == name
    mail_keys = Counter(m["Idempotency-Key"] for m in mailbox.messages)
    assert mail_keys == Counter({d["key"]: 1 for d in rows if d["channel"] == "mail"})
    subjects = [" ".join(str(m["Subject"]).split()) for m in mailbox.messages]  # a long one is folded
    assert all(s.startswith("[dockyard] ") for s in subjects), subjects
    assert len({m["Message-ID"] for m in mailbox.messages}) == 5


def test_notify_test_says_what_a_receiver_did_and_bad_channels_are_refused(
        notified: tuple[Server, ServedApp, Receiver, int], tmp_path: Path) -> None:
    server, _, receiver, _ = notified
    receiver.opens_at = time.monotonic()  # up (whether or not the first test ran)
    env = {**server.env, "DOCKYARD_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    refusing = Controller(Mailbox(refuse=True), hostname="127.0.0.1", port=free_port())
    refusing.start()
    try:
        (tmp_path / "home" / "settings.yml").write_text(f"""\
notifications:
  channels:
    hook: {{type: webhook, url: "{receiver.url}/hook"}}
    mail: {{type: email, smtp: "127.0.0.1:{refusing.port}", from: a@example.test, to: [b@example.test]}}
""")
        sent = run_cli("notify", "test", "hook", env=env)
        assert sent.returncode == 0 and "hook: delivered (webhook)" in sent.stdout, sent.stderr
        as_json = run_cli("notify", "test", "hook", "--json", env=env)
        assert check("notify-test.schema.json", json.loads(as_json.stdout))["delivered"] is True
        mailed = run_cli("notify", "test", "mail", env=env)
        assert mailed.returncode == 1 and f"SMTP server 127.0.0.1:{refusing.port} refused every recipient: " \
            "b@example.test (550 5.1.1 mailbox unavailable)" in mailed.stderr
        assert "Traceback" not in mailed.stderr and not refusing.handler.messages
        unknown = run_cli("notify", "test", "pager", env=env)
        assert unknown.returncode == 1 and "no notification channel 'pager'" in unknown.stderr
        (tmp_path / "home" / "settings.yml").write_text(
            "notifications:\n  channels:\n    hook: {type: webhook, url: \"file:///etc/passwd\"}\n")
        bad = run_cli("notify", "test", "hook", env=env)
        assert bad.returncode == 1 and "notifications.channels.hook: a webhook channel needs url: http(s)://" \
            in bad.stderr and "Traceback" not in bad.stderr
    finally:
        refusing.stop()


def test_a_mail_some_of_whose_recipients_are_refused_is_delivered_once_to_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DOCKYARD_HOME", str(home))
    mailbox = Mailbox(refuse={"nobody@example.test"})
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        (home / "settings.yml").write_text(f"""\
notifications:
  channels:
    mail: {{type: email, smtp: "127.0.0.1:{smtp.port}", from: a@example.test,
            to: [ops@example.test, nobody@example.test]}}
""")
        tried = run_cli("notify", "test", "mail", env={"DOCKYARD_HOME": str(home)})
        assert tried.returncode == 1 and "mail: delivered in part: " in tried.stderr
        assert "refused nobody@example.test (550 5.1.1 mailbox unavailable); the others have it" in tried.stderr
        db = StateDB(home / "state.db")
        try:
            Outbox(db).enqueue(Event("deployed:1", "deployed", "shop", "prod", "deployed r1", time.time()), ["mail"])
            assert Deliverer(db).run_once() == (1, 0)
            assert Deliverer(db).run_once(now=time.time() + 3600) == (0, 0)  # nothing left to send again
            [row] = Outbox(db).recent()
        finally:
            db.close()
    finally:
        smtp.stop()
    assert row.delivered_at and "refused nobody@example.test (550" in row.last_error
    assert mailbox.recipients == [["ops@example.test"], ["ops@example.test"]]  # the test's, then the event's


def test_an_alert_of_the_hosts_agent_is_told_once_when_it_fires_and_once_when_it_resolves(
        notified: tuple[Server, ServedApp, Receiver, int], tmp_path: Path,
        docker_client_module: docker.DockerClient) -> None:
    server, app, receiver, smtp_port = notified
    receiver.opens_at = time.monotonic()  # up (whether or not the first test ran)
    name = app.app.name
    rules = tmp_path / "alerts.yml"
    rules.write_text(f"app: {name}\nalerts:\n  - {{name: web-down, when: down, service: web}}\n")
    # a container of the app's, as a deploy labels it (its own env, so the test needs no deploy first)
    web = docker_client_module.containers.run(
        "dockyard/busybox:1.35", ["sleep", "600"], name=f"{name}_watch_web_1", detach=True,
        labels={"dockyard.app": name, "dockyard.env": "watch", "dockyard.service": "web"})
    port = free_port()
    agent = subprocess.Popen([DOCKYARD, "agent", "--listen", f"127.0.0.1:{port}", "--interval", "0.5",
                              "--rules", str(rules), "--label", f"dockyard.app={name}"],
                             env={**os.environ, **server.env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    settings = Path(server.env["DOCKYARD_HOME"]) / "settings.yml"
    before = settings.read_text()
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)

    def told() -> list[dict[str, Any]]:
        return [d for d in outbox(server) if d["event"].startswith("alert.") and d["delivered_at"]
                and d["key"].split(":")[3] == "web-down"]
    try:
        settings.write_text(before + f"agent_url: http://127.0.0.1:{port}\n")  # read by the server at each pass
        smtp.start()
        try:
            watched = lambda: any(s["name"] == web.name for s in httpx.get(  # noqa: E731
                f"http://127.0.0.1:{port}/api/stats", timeout=2).json()["samples"])
            wait_for(watched, "the agent sees the app's container", 40)
            web.stop(timeout=0)
            wait_for(lambda: alerts(port, "firing"), "web-down fires", 30)
            web.start()
            wait_for(lambda: alerts(port, "resolved"), "web-down resolves", 30)
            wait_for(lambda: len(told()) == 6, "alert.firing and alert.resolved delivered on each channel", 60)
        finally:
            smtp.stop()
    finally:
        settings.write_text(before)
        agent.terminate()
        agent.wait(timeout=20)
        web.remove(force=True)
    rows = told()
    assert sorted((d["channel"], d["event"]) for d in rows) == [
        (c, e) for c in ("chat", "hook", "mail") for e in ("alert.firing", "alert.resolved")]
    for channel, path in (("hook", "/hook"), ("chat", "/slack")):
        keys = [d["key"] for d in rows if d["channel"] == channel]
        assert all(receiver.taken(path)[key] == 1 for key in keys), receiver.taken(path)
    bodies = [json.loads(r["body"]) for r in receiver.seen if r["path"] == "/hook" and "web-down" in r["key"]]
    assert {b["event"] for b in bodies} == {"alert.firing", "alert.resolved"}
    assert all(b["app"] == name and b["env"] == "watch" for b in bodies)
    mailed = Counter(m["Idempotency-Key"] for m in mailbox.messages if "web-down" in m["Idempotency-Key"])
    assert mailed == Counter({d["key"]: 1 for d in rows if d["channel"] == "mail"})


def alerts(port: int, state: str) -> bool:
    rows = httpx.get(f"http://127.0.0.1:{port}/api/events", timeout=2).json()
    mine = [r for r in rows if r["rule"] == "web-down"]
    return bool(mine) and (state == "firing" or all(r["ended_at"] for r in mine))


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for: {what}")
