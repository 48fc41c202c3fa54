"""The server's background loops: the pipeline worker, the poller, the autoscaler, the balancer
watch, certificate renewals, scheduled backups, notifications, the agent's alerts and the audit of
failed log-ins. Each runs in a daemon thread until `stop` is set.

runtime.py imports this module only once the server listens and its application is built: these
imports (the deploy, backup and pipeline packages, docker-py) are most of the server's start.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from dockyard import settings
from dockyard.backup.schedule import Scheduler
from dockyard.backup.stores import open_store
from dockyard.config.service import open_config_service
from dockyard.deploy.edge import Renewals
from dockyard.deploy.rollout import take_over
from dockyard.deploy.rollout_store import RolloutStore
from dockyard.engine.client import connect
from dockyard.jobs.runner import JobRunner, enabled_specs
from dockyard.monitor.client import AgentUnavailable, agent_url, get_json
from dockyard.notify.deliver import Deliverer
from dockyard.notify.emit import take_alerts
from dockyard.pipeline import previews
from dockyard.pipeline.store import RunStore
from dockyard.pipeline.worker import Pool
from dockyard.router.edge import Edge
from dockyard.router.watch import BalancerWatch
from dockyard.scale.loop import AgentMetrics, Autoscaler, EnabledSpecs
from dockyard.scale.store import ScaleStore
from dockyard.server.poller import Poller
from dockyard.server.throttle import LoginThrottle
from dockyard.server.web.login import audit_failures
from dockyard.state.db import StateDB
from dockyard.state.lock import running_holder

log = logging.getLogger("dockyard.server")


def _work(stop: threading.Event) -> None:
    """The pipeline's runs, one at a time per app and several apps at once (pipeline/worker.py); an app
    whose detached `pipeline work` is still finishing is left to it until it lets go."""
    while not stop.is_set():
        try:
            pool = Pool()
            try:
                pool.run_forever(stop)
            finally:
                pool.close()
        except Exception:  # the state store went away, a bug: log, wait, go on
            log.exception("pipeline worker failed; starting again in 5 s")
            stop.wait(5)


def _poll(stop: threading.Event) -> None:
    db = StateDB()
    poller = Poller(RunStore(db))
    try:
        while not stop.is_set():
            try:
                poller.poll_due()
            except Exception:
                log.exception("poller failed")
            stop.wait(1.0)
    finally:
        db.close()


def _autoscale(stop: threading.Event) -> None:
    """The autoscaling loop over the apps of `dockyard autoscale enable` (dockyard/scale/loop.py)."""
    db = StateDB()
    scaler = Autoscaler(db, AgentMetrics(), report=lambda line: log.info("autoscale: %s", line))
    try:
        scaler.run_forever(stop, EnabledSpecs(ScaleStore(db)))
    finally:
        db.close()


def _balancers(stop: threading.Event) -> None:
    """The balancer watch (dockyard/router/watch.py): supervised, and on the replicas' addresses."""
    BalancerWatch(report=lambda line: log.info("balancers: %s", line)).run(stop)


RENEW_EVERY = 60.0  # seconds between two passes; a pass reads each certificate's dates, the CA only when due


def _renewals(stop: threading.Event) -> None:
    """Certificates of the host's edge renewed ahead of their expiry, with backoff (deploy/edge.py)."""
    every = float(os.environ.get("DOCKYARD_RENEW_EVERY") or RENEW_EVERY)
    renewals = Renewals(lambda: Edge(report=lambda line: log.info("edge: %s", line)),
                        report=lambda line: log.info("renewals: %s", line), routes=lambda: Edge().routes())
    while not stop.wait(every):
        try:
            renewals.run_once()
        except Exception:  # a broken edge must not end the server's renewals
            log.exception("certificate renewal pass failed")


BACKUP_EVERY = 60.0  # seconds between two passes over the scheduled backups


def _backups(stop: threading.Event) -> None:
    """Scheduled backups of the apps of `dockyard backup schedule`, and their retention (backup/schedule.py)."""
    every = float(os.environ.get("DOCKYARD_BACKUP_EVERY") or BACKUP_EVERY)
    db = StateDB()
    scheduler = Scheduler(db, lambda: open_store(settings.backup_settings()), open_config_service,
                          report=lambda line: log.info("backups: %s", line))
    try:
        while not stop.wait(every):
            try:
                scheduler.run_once()
            except Exception:  # a broken store or spec must not end the server's backups
                log.exception("scheduled backups pass failed")
    finally:
        db.close()


NOTIFY_EVERY = 1.0  # seconds between two passes over the notifications' outbox


def _notifications(stop: threading.Event) -> None:
    """The outbox's deliveries sent to their channels, failures retried with backoff (notify/deliver.py)."""
    db = StateDB()
    deliverer = Deliverer(db)
    try:
        while not stop.wait(NOTIFY_EVERY):
            try:
                deliverer.run_once()
            except Exception:  # a bad settings file or a bug must not end the server's deliveries
                log.exception("notification pass failed")
    finally:
        db.close()


ALERTS_EVERY = 5.0  # seconds between two reads of the agent's alert events


def _alerts(stop: threading.Event) -> None:
    """The host agent's alert events (firing, resolved) into the one outbox, each once, and to their
    routes' channels, when an agent answers."""
    since = time.time() - 60.0
    db = StateDB()
    try:
        while not stop.wait(ALERTS_EVERY):
            try:
                take_alerts(db, get_json(agent_url(), "/api/events", {"limit": 200}), since)
            except AgentUnavailable:
                continue  # no agent on this host (yet): nothing to tell
            except Exception:  # a bad settings file or a bug must not end the server's alert notifications
                log.exception("alert notification pass failed")
    finally:
        db.close()


JOBS_EVERY = 2.0  # seconds between two passes over the scheduled jobs (a run starts at most this late)


def _jobs(stop: threading.Event) -> None:
    """The scheduled jobs of the apps of `dockyard jobs enable` (jobs/runner.py)."""
    every = float(os.environ.get("DOCKYARD_JOBS_EVERY") or JOBS_EVERY)
    db = StateDB()
    report = lambda line: log.info("jobs: %s", line)  # noqa: E731 - a line to the server's log
    runner = JobRunner(db, open_config_service, connect, report)
    try:
        while not stop.wait(every):
            try:
                runner.tick(enabled_specs(runner.store, report))
            except Exception:  # a locked database or a bug must not end the server's jobs
                log.exception("scheduled jobs pass failed")
    finally:
        db.close()


ROLLOUTS_EVERY = 1.0  # seconds between two looks for canary rollouts that nobody drives


def _rollouts(stop: threading.Event) -> None:
    """Canary rollouts whose deploy died (deploy/rollout.take_over): each driven in a thread of its
    own, from where it was, to its end."""
    db = StateDB()
    driving: dict[int, threading.Thread] = {}
    try:
        while not stop.wait(ROLLOUTS_EVERY):
            try:
                for row in RolloutStore(db).active():
                    if row.id in driving and driving[row.id].is_alive():
                        continue
                    if running_holder(row.app, row.env) is not None:
                        continue  # its deploy (or a `rollout` command) drives it
                    driving[row.id] = threading.Thread(target=take_over, name=f"rollout-{row.id}", daemon=True,
                                                       args=(row.id, lambda line: log.info("rollout: %s", line),
                                                             stop.is_set))
                    driving[row.id].start()
            except Exception:  # a locked database or a bug must not end the server's rollouts
                log.exception("rollout pass failed")
    finally:
        db.close()


PREVIEWS_EVERY = 30.0  # seconds between two looks for previews past their ttl


def _previews(stop: threading.Event) -> None:
    """Previews not updated for their `previews.ttl` are taken down (a run of their app, like a close)."""
    every = float(os.environ.get("DOCKYARD_PREVIEWS_EVERY") or PREVIEWS_EVERY)
    db = StateDB()
    try:
        while not stop.wait(every):
            try:
                for done in previews.expire(db):
                    log.info("previews: %s", done)
            except Exception:  # a broken row must not end the loop
                log.exception("previews expiry pass failed")
    finally:
        db.close()


LOGINS_EVERY = 1.0  # seconds between two looks for windows of failed log-ins that have ended


def _login_failures(stop: threading.Event, throttle: LoginThrottle) -> None:
    """Each ended window of failed log-ins as one audit row; the open ones too when the server stops."""
    db = StateDB()
    try:
        while not stop.wait(LOGINS_EVERY):
            try:
                audit_failures(db, throttle.ended(time.time()))
            except Exception:  # a locked database must not end the server's audit of log-ins
                log.exception("audit of failed log-ins failed")
        audit_failures(db, throttle.drain())
    finally:
        db.close()


def start(stop: threading.Event, throttle: LoginThrottle) -> list[threading.Thread]:
    """Every loop in its daemon thread, started; the pipeline worker first (serve() waits for it the longest)."""
    loops = [threading.Thread(target=_work, args=(stop,), name="pipeline-worker", daemon=True),
             threading.Thread(target=_poll, args=(stop,), name="poller", daemon=True),
             threading.Thread(target=_autoscale, args=(stop,), name="autoscaler", daemon=True),
             threading.Thread(target=_balancers, args=(stop,), name="balancers", daemon=True),
             threading.Thread(target=_renewals, args=(stop,), name="renewals", daemon=True),
             threading.Thread(target=_backups, args=(stop,), name="backups", daemon=True),
             threading.Thread(target=_jobs, args=(stop,), name="jobs", daemon=True),
             threading.Thread(target=_rollouts, args=(stop,), name="rollouts", daemon=True),
             threading.Thread(target=_previews, args=(stop,), name="previews", daemon=True),
             threading.Thread(target=_notifications, args=(stop,), name="notifications", daemon=True),
             threading.Thread(target=_alerts, args=(stop,), name="alerts", daemon=True),
             threading.Thread(target=_login_failures, args=(stop, throttle), name="logins", daemon=True)]
    for thread in loops:
        thread.start()
    return loops
