"""What runs in one-off containers of a release: its release task, the hooks around a deploy and the
scheduled jobs (issue 31). Each is a command of the app's image run with a service's settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from cronsim import CronSim, CronSimError
from pydantic import AfterValidator, Field

from dockyard.spec.base import SpecModel
from dockyard.spec.fields import EnvName, JobName, PositiveDuration, ServiceName, ShellArgv
from dockyard.spec.hints import fail, show

HOOKS = ("pre_deploy", "post_deploy", "post_switch")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # any moment: a schedule is checked by computing one run


class OneOffSpec(SpecModel):
    command: ShellArgv = Field(description="the command, e.g. [./manage.py, migrate] or one string run by sh -c")
    timeout: PositiveDuration = 600.0
    # whose settings it runs with (user, resources, volumes, env): the first service by default
    service: ServiceName | None = None


class ReleaseTaskSpec(OneOffSpec):
    """What runs once per release, in a one-off container of the new image with the environment's
    configuration, secrets, files and network, before any replica of it starts (a migration)."""


class HookSpec(OneOffSpec):
    """A command around a deploy, in a one-off container of the new release."""

    timeout: PositiveDuration = 300.0


class HooksSpec(SpecModel):
    """pre_deploy: before the release task and before any replica starts (a failure: nothing changed).
    post_deploy: the release runs and passed its tests, before live traffic reaches it where the
    strategy has a standby (blue-green); a failure is a failed test. post_switch: live traffic goes
    to it; a failure rolls back when the environment says `on_failure: rollback`."""

    pre_deploy: HookSpec | None = None
    post_deploy: HookSpec | None = None
    post_switch: HookSpec | None = None

    def get(self, name: str) -> HookSpec | None:
        hook: HookSpec | None = getattr(self, name)
        return hook

    def defined(self) -> list[str]:
        return [name for name in HOOKS if self.get(name) is not None]


def _cron(value: str) -> str:
    """Five fields (minute hour day month weekday), as cron reads them; checked by cronsim."""
    if not isinstance(value, str) or len(value.split()) != 5:
        raise fail(f"must be a cron schedule of five fields (minute hour day month weekday), e.g. \"*/15 * * * *\", "
                   f"got {show(value)}")
    try:
        CronSim(value, _EPOCH)
    except CronSimError as exc:
        raise fail(f"is not a cron schedule: {exc} (in {value!r})") from exc
    return value


Schedule = Annotated[str, AfterValidator(_cron)]


class JobSpec(SpecModel):
    """A command the server runs on a schedule, in a one-off container of the environment's live
    release. `forbid`: a run that is due while the last still runs is skipped; `replace`: the
    running one is stopped and the new one starts. A run missed while the server was down runs once
    when it is back, unless `skip_missed`."""

    name: JobName
    schedule: Schedule = Field(description="a cron schedule, e.g. \"*/15 * * * *\" (UTC)")
    command: ShellArgv
    timeout: PositiveDuration = 3600.0
    concurrency: Literal["forbid", "replace"] = "forbid"
    skip_missed: bool = False
    service: ServiceName | None = None
    # the environments that run it; not set: every environment
    environments: list[EnvName] | None = None

    def runs_in(self, env: str) -> bool:
        return self.environments is None or env in self.environments


