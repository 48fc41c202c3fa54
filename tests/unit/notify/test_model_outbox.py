from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from dockyard.notify.model import Event, backoff, body, channels_for, delivery_key, signature
from dockyard.notify.store import GIVE_UP_AFTER, Outbox
from dockyard.settings import NotificationSettings
from dockyard.state.db import StateDB

SETTINGS = NotificationSettings.model_validate({
    "channels": {"hook": {"type": "webhook", "url": "https://hooks.example/in"},
                 "chat": {"type": "slack", "url": "http://127.0.0.1:9/slack"},
                 "mail": {"type": "email", "smtp": "127.0.0.1:25", "from": "dy@example", "to": ["ops@example"]}},
    "routes": [{"channel": "hook"},
               {"channel": "chat", "envs": ["production"], "events": ["run.failed", "rolled_back"]},
               {"channel": "mail", "apps": ["shop"], "events": ["run.failed"]},
               {"channel": "hook", "events": ["run.failed"]}]})


def event(kind: str = "run.failed", app: str = "shop", env: str = "production") -> Event:
    return Event(f"run:7:{kind}", kind, app, env, "run #7 of shop failed", 1000.0, {"run": 7})


def test_routes_choose_each_channel_once() -> None:
    assert channels_for(SETTINGS.routes, event()) == ["hook", "chat", "mail"]
    assert channels_for(SETTINGS.routes, event(env="staging")) == ["hook", "mail"]
    assert channels_for(SETTINGS.routes, event("deployed", app="blog")) == ["hook"]


def test_bad_channels_and_routes_are_refused_with_what_is_wrong() -> None:
    bad = [({"channels": {"x": {"type": "webhook", "url": "ftp://host/x"}}}, "needs url: http(s)://HOST/PATH"),
           ({"channels": {"x": {"type": "slack"}}}, "needs url"),
           ({"channels": {"x": {"type": "email", "smtp": "mail", "from": "a@b", "to": ["c@d"]}}}, "smtp: HOST:PORT"),
           ({"channels": {"x": {"type": "email", "smtp": "mail:25"}}}, "needs from: and to:"),
           ({"routes": [{"channel": "nope"}]}, "no channel 'nope'"),
           ({"channels": {"x": {"type": "slack", "url": "http://h/"}},
             "routes": [{"channel": "x", "events": ["oops"]}]}, "unknown events ['oops']")]
    for data, message in bad:
        with pytest.raises(ValidationError, match=re.escape(message)):
            NotificationSettings.model_validate(data)


def test_the_body_names_its_delivery_and_the_signature_is_hmac_sha256() -> None:
    key = delivery_key("run:7:run.failed", "hook")
    payload = body(key, event())
    assert orjson.loads(payload) == {"id": "run:7:run.failed/hook", "event": "run.failed", "app": "shop",
                                     "env": "production", "text": "run #7 of shop failed", "at": 1000.0,
                                     "data": {"run": 7}}
    assert signature(b"k", payload) == "sha256=" + hmac.new(b"k", payload, hashlib.sha256).hexdigest()
    assert [backoff(n) for n in (1, 2, 3, 9, 20)] == [1.0, 2.0, 4.0, 256.0, 300.0]


def test_the_outbox_queues_each_event_once_per_channel_and_retries_until_it_gives_up(tmp_path: Path) -> None:
    outbox = Outbox(StateDB(tmp_path / "state.db"))
    assert outbox.enqueue(event(), ["hook", "mail"]) == 2
    assert outbox.enqueue(event(), ["hook", "mail"]) == 0  # the same fact emitted again
    due = outbox.due(now=1000.0)
    assert [(d.key, d.channel, d.event.kind, d.event.data) for d in due] == [
        ("run:7:run.failed/hook", "hook", "run.failed", {"run": 7}),
        ("run:7:run.failed/mail", "mail", "run.failed", {"run": 7})]
    hook, mail = due
    outbox.delivered(hook, now=1001.0)
    assert not outbox.failed(mail, "SMTP server 127.0.0.1:25 refused: 550 no", now=1001.0)
    assert outbox.due(now=1001.5) == []  # mail waits out its backoff (1 s)
    [again] = outbox.due(now=1002.0)
    assert again.key == mail.key and again.attempts == 1
    assert outbox.failed(again, "still refused", now=1000.0 + GIVE_UP_AFTER)
    assert outbox.due(now=1000.0 + 2 * GIVE_UP_AFTER) == []
    states = {d.key: (d.delivered_at, d.given_up_at, d.attempts, d.last_error) for d in outbox.recent()}
    assert states == {"run:7:run.failed/hook": (1001.0, None, 1, ""),
                      "run:7:run.failed/mail": (None, 1000.0 + GIVE_UP_AFTER, 2, "still refused")}


def test_events_and_finished_deliveries_are_kept_for_a_bounded_time(tmp_path: Path) -> None:
    from dataclasses import replace

    from dockyard.notify.store import DELIVERIES_KEPT, EVENTS_KEPT, Events

    db = StateDB(tmp_path / "state.db")
    outbox, events = Outbox(db), Events(db)
    old = event()
    outbox.enqueue(old, ["hook", "mail"])
    events.append(old)
    [hook, _mail] = outbox.due(now=old.at)
    outbox.delivered(hook, now=old.at + 1)  # the mail one is still pending
    later = replace(old, id="run:8:run.failed", at=old.at + DELIVERIES_KEPT + 1)
    outbox.enqueue(later, ["hook"])
    events.append(later)
    # the delivered one went; the pending one stays however old, until it is delivered or given up
    assert sorted(d.key for d in outbox.recent()) == ["run:7:run.failed/mail", "run:8:run.failed/hook"]
    assert [r.event.id for r in events.recent(("run.failed",))] == ["run:8:run.failed", "run:7:run.failed"]
    last = replace(old, id="run:9:run.failed", at=old.at + EVENTS_KEPT + 1)
    events.append(last)
    assert [r.event.id for r in events.recent(("run.failed",))] == ["run:9:run.failed", "run:8:run.failed"]
