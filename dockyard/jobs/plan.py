"""When a job's run is due (pure): from its cron schedule, the last moment handled and now.

Every moment of the schedule after the last one handled and up to now is due, and one run covers
them all: moments missed while the server was down give one run when it is back. The latest moment
is on time while at most GRACE seconds old (a pass comes every few seconds); an older one was
missed, and a job that says `skip_missed` skips it (its next moment runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cronsim import CronSim

GRACE = 30.0  # seconds: a moment older than this when it is seen was missed (the server was down)
MOST = 100_000  # moments looked at past the mark: a per-minute job's 69 days; older ones are all missed


@dataclass(frozen=True)
class Due:
    at: float  # the latest moment due: the run is recorded as due then
    moments: int  # how many moments were due since the mark (more than one: some were missed)
    missed: bool  # the latest one is older than GRACE: the server was not there to run it
    run: bool  # False: skip_missed, and it was missed

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        if not self.missed and self.moments == 1:
            return f"due at {when}"
        late = f"{self.moments} runs were due since the last one, the latest at {when}"
        return f"{late}: one catch-up run" if self.run else f"{late}: skipped (skip_missed)"


def _moments(schedule: str, after: float) -> CronSim:
    return CronSim(schedule, datetime.fromtimestamp(after, UTC))


def next_at(schedule: str, after: float) -> float:
    """The first moment of the schedule after `after` (epoch seconds, UTC)."""
    return next(_moments(schedule, after)).timestamp()


def due(schedule: str, mark: float, now: float, skip_missed: bool) -> Due | None:
    """What is due now, the moments up to `mark` handled already; None: nothing."""
    latest, count = None, 0
    for moment in _moments(schedule, mark):
        at = moment.timestamp()
        if at > now or count >= MOST:
            break
        latest, count = at, count + 1
    if latest is None:
        return None
    missed = now - latest > GRACE
    return Due(latest, count, missed, run=not (missed and skip_missed))
