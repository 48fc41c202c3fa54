"""Enrichment: a chain of small processors, each `event -> event`, tested by calling them.

Two chains. The container chain runs once per container (and again when its labels are read
again): host, container id and name, image, Dockyard's app/env/service/release labels. Its result,
the tags, travels with every batch of that container's lines. The line chain turns one stored
line into the event a network sink sends: stream name and time. Keeping per-container work out of
the per-line path is what makes 100,000 lines per second possible in Python.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from typing import Any

from dockyard.engine import labels as L
from dockyard.logs.jsonfile import STREAM_NAMES, format_time
from dockyard.logs.meta import ContainerMeta

Event = dict[str, Any]
Processor = Callable[[Event], Event]

TAG_LABELS = {"app": L.APP, "env": L.ENV, "service": L.SERVICE, "release": L.RELEASE}


def run_chain(processors: Iterable[Processor], event: Event) -> Event:
    for processor in processors:
        event = processor(event)
    return event


# ---------------------------------------------------------------- container chain


def add_host(host: str | None = None) -> Processor:
    name = host or socket.gethostname()

    def processor(event: Event) -> Event:
        event["host"] = name
        return event

    return processor


def add_container(event: Event) -> Event:
    meta: ContainerMeta = event["meta"]
    event["container_id"] = meta.cid
    event["container"] = meta.name or meta.cid[:12]
    return event


def add_image(event: Event) -> Event:
    event["image"] = event["meta"].image
    return event


def add_dockyard_labels(event: Event) -> Event:
    labels = event["meta"].labels
    for field, label in TAG_LABELS.items():
        event[field] = labels.get(label, "")
    return event


def drop_meta(event: Event) -> Event:
    event.pop("meta", None)
    return event


def container_chain(host: str | None = None) -> list[Processor]:
    return [add_host(host), add_container, add_image, add_dockyard_labels, drop_meta]


def tags_for(meta: ContainerMeta, chain: list[Processor]) -> Event:
    return run_chain(chain, {"meta": meta})


# ---------------------------------------------------------------- line chain


def add_stream(event: Event) -> Event:
    event["stream"] = STREAM_NAMES[event["stream"]] if isinstance(event["stream"], int) else event["stream"]
    return event


def add_time(event: Event) -> Event:
    event["@timestamp"] = format_time(event["time_ns"])
    return event


LINE_CHAIN: list[Processor] = [add_stream, add_time]


def line_event(tags: Event, line: tuple[int, int, int, str], file: str,
               chain: list[Processor] = LINE_CHAIN) -> Event:
    """One line with its container's tags, as a network sink sends it."""
    offset, time_ns, stream, message = line
    event = {**tags, "file": file, "offset": offset, "time_ns": time_ns, "stream": stream, "message": message}
    return run_chain(chain, event)
