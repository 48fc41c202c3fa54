"""Server-sent events of a run: what changed since the last look, as (event, data) pairs (pure).

The stream sends `step` when a step's status changes, `output` for each new line a step wrote,
`run` when the run's status changes, and a last `end` when the run has ended or waits at a gate.
What a reader has seen of a step is a byte offset in everything the step printed (its `printed`):
it stays true when the step's oldest output is cut (pipeline/output.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.pipeline.store import Piece, Run, Step

Event = tuple[str, dict[str, Any]]
Since = Callable[[int, int], Piece]  # (step, byte offset) -> what the step printed after it
FOLLOWING = ("queued", "running")


@dataclass
class Seen:
    run_status: str | None = None
    steps: dict[int, tuple[str, int]] = field(default_factory=dict)  # idx -> (status, bytes of output seen)


def shown(after: str | None, limit: int = 1000) -> Seen:
    """What a page already shows, from its `after=IDX:BYTES,...`: its stream starts past it, so each
    line reaches the page once (a reload after Approve repeated every earlier line)."""
    seen = Seen()
    for part in (after or "").split(",")[:limit]:
        idx, _, length = part.partition(":")
        if idx.isdigit() and length.isdigit():
            seen.steps[int(idx)] = ("", int(length))  # "": the step's status is still sent once
    return seen


def step_data(step: Step) -> dict[str, Any]:
    return step.as_json()


def changes(seen: Seen, run: Run, steps: list[Step], since: Since) -> list[Event]:
    """The events since `seen` (which is updated); output before a step's final status. `since` reads
    a step's new output, and only for a step that printed more than was seen."""
    events: list[Event] = []
    if run.status != seen.run_status:
        seen.run_status = run.status
        events.append(("run", {"id": run.id, "status": run.status, "error": run.error or None}))
    for step in steps:
        status, offset = seen.steps.get(step.idx, ("pending", 0))
        if offset > step.printed:  # not an offset of this step (a page of another database): from its start
            offset = 0
        new_lines: list[Event] = []
        if step.printed > offset:
            piece = since(step.idx, offset)
            new_lines = [("output", {"idx": step.idx, "line": line}) for line in piece.text.splitlines()]
            offset = piece.end
        status_event = [("step", step_data(step))] if step.status != status else []
        events += (status_event + new_lines) if step.status == "running" else (new_lines + status_event)
        seen.steps[step.idx] = (step.status, offset)
    if run.status not in FOLLOWING:
        events.append(("end", {"id": run.id, "status": run.status, "error": run.error or None}))
    return events


def sse(event: str, data: dict[str, Any]) -> str:
    """One event in the text/event-stream format."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
