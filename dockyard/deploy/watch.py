"""A release switched whole, watched (issue 32): `watch:` of a blue-green, rolling or recreate
environment. The edge's requests of the environment are followed from before the deploy begins (the
access log files held open: the forwarder's rotation loses none), so the release before has a
baseline: its requests from the same span before the deploy. Once the deploy is done, the new live
release's requests are judged against it (plan/canary.judge) until `for` has passed; a failure
ends the watch at once. An inconclusive window fails (`inconclusive: fail`), or goes on watching
(`wait`) up to 3 x `for`, after which the deploy fails saying the release was not judged, and it
stays live: it never passes silently, and a release nothing was seen wrong with is not taken back."""

from __future__ import annotations

import time
from collections.abc import Callable

from dockyard.deploy.rollout import POLL, Tally
from dockyard.errors import DeployError
from dockyard.logs.edge_window import EdgeTraffic
from dockyard.plan.canary import Verdict, judge
from dockyard.router.edge_routes import edge_dir
from dockyard.spec.canary import WatchSpec

Report = Callable[[str], None]
LONGEST = 3  # an inconclusive watch (`inconclusive: wait`) goes on up to this many times `for`


class WatchFailed(DeployError):
    """The new live release failed its watch: the strategy puts the release before back."""


class WatchInconclusive(DeployError):
    """Too few requests to judge the new live release, as long as it was watched (`inconclusive:
    wait`): it stays live, and the deploy says it was not judged."""


class Watch:
    def __init__(self, rules: WatchSpec, app: str, env: str, report: Report) -> None:
        self.rules, self.report = rules, report
        self.began = time.time()  # the deploy's start: what came before is the release before's
        self.traffic = EdgeTraffic(edge_dir() / "logs", app, env, self.began - rules.for_, tracked=False)
        self.tally = Tally()
        self.live_since: float | None = None
        self._count()  # the files the edge writes now, open before the deploy reloads it

    def _count(self) -> None:
        for entry in self.traffic.take():
            at = entry.time_ns / 1e9
            if at < self.began:
                self.tally.add("stable", entry.status, entry.upstream_s)
            elif self.live_since is not None and at >= self.live_since:
                self.tally.add("canary", entry.status, entry.upstream_s)

    def verdict(self, final: bool = True) -> Verdict:
        return judge(self.tally.window("canary"), self.tally.window("stable"), self.rules,
                     names=("new release", "release before"), final=final)

    def watch(self, release: str, stop: Callable[[], bool] = lambda: False) -> Verdict:
        """From now (the release is live) until its verdict; WatchFailed on a failure."""
        self.live_since = time.time()
        self.report(f"watch    release {release} for {self.rules.for_:g} s against the release before's requests")
        said = 0.0
        try:
            while not stop():
                self._count()
                now = time.time()
                verdict = self.verdict(final=now - self.live_since >= self.rules.for_)
                if verdict.outcome == "fail":
                    raise WatchFailed(f"release {release} failed its watch: {'; '.join(verdict.reasons)}",
                                      hint="its numbers: dockyard releases ENV (the note)")
                over = now - self.live_since >= self.rules.for_
                if over and verdict.outcome == "pass":
                    self.report(f"watch    release {release} passed: {self._numbers(verdict)}")
                    return verdict
                if over and self.rules.inconclusive == "fail":
                    raise WatchFailed(f"release {release}'s watch is inconclusive: {'; '.join(verdict.reasons)} "
                                      "(inconclusive: fail)", hint="give the watch more time or fewer min_requests")
                if now - self.live_since >= LONGEST * self.rules.for_:
                    raise WatchInconclusive(f"release {release} is live but was not judged: after "
                                            f"{LONGEST * self.rules.for_:g} s, {'; '.join(verdict.reasons)}",
                                            hint="it stays live; `dockyard rollback ENV` takes it back")
                if now - said >= self.rules.interval:
                    said = now
                    self.report(f"watch    {self._numbers(verdict)}; {', '.join(verdict.reasons) or 'so far so good'}")
                time.sleep(POLL)
            return self.verdict()
        finally:
            self.traffic.close()

    @staticmethod
    def _numbers(verdict: Verdict) -> str:
        c, s = verdict.canary, verdict.stable
        return (f"new {c['requests']} requests, 5xx {c['ratio_5xx']:.2%}, p95 {c['p95_ms']} ms; before "
                f"{s['requests']}, 5xx {s['ratio_5xx']:.2%}, p95 {s['p95_ms']} ms")

    def close(self) -> None:
        self.traffic.close()
