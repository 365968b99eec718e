"""The long-running service: serve /metrics, refresh on a schedule, on new files, on demand.

A refresh opens the DuckDB file only while it runs (ingest → checks → forecasts →
snapshot), so analysts can open the file in between. A refresh that fails keeps the
last good snapshot; a locked file is retried with back-off while scrapes go on, any
other fault of the file (see storefaults) at the next refresh or sooner. Each good
snapshot is saved beside the store and served at once by the next start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from exporters.collector import SnapshotData
from exporters.health import ServiceHealth
from exporters.http import Hooks, MetricsServer, SnapshotHolder, Timeouts
from exporters.listen import parse_listen
from exporters.snapshot import Key, Snapshot
from exporters.webconfig import WebConfig, load_web_config
from forecasts.pool import stop_all
from ingest.errors import IngestError, KpiwatchError, StageError, StoreError
from ingest.store import open_store
from kpiwatch import app
from kpiwatch.bulletin_board import Bulletins
from kpiwatch.config import Config, load_config
from kpiwatch.inbox import Inbox
from kpiwatch.inbox import listing as inbox_listing
from kpiwatch.snapshots import Snapshots, first_line
from kpiwatch.storefaults import classify
from metrics.scope import Plan

log = logging.getLogger("kpiwatch")


@dataclass
class Triggers:
    """Why the refresh loop wakes up: a timer, a request, or new files in the inbox."""

    event: threading.Event
    stop: threading.Event


class Service:
    """Owns the snapshot holder, the health metrics and the refresh loop."""

    def __init__(
        self, config: Config, today: date | None = None, config_path: Path | None = None
    ) -> None:
        self.config = config  # replaced whole by a reload; a refresh keeps the one it began with
        self.config_path = config_path
        self.today = today
        self.httpd: MetricsServer | None = None
        self._reload_lock = threading.Lock()
        self.health = ServiceHealth()
        self.holder = SnapshotHolder(self.health)
        self.triggers = Triggers(threading.Event(), threading.Event())
        self.inbox = Inbox()
        self.store_fault = False  # the last refresh failed on the store's file
        self.snapshots = Snapshots(self.health, self.holder, self._failed)
        self.bulletins = Bulletins()

    # -- the refresh -------------------------------------------------------------
    def refresh(self) -> bool:
        """Run one refresh; on success serve its snapshot. Never raises."""
        config = self.config  # a reload during the refresh applies to the next one
        started = time.monotonic()
        self.store_fault = False
        try:
            con = self._open_with_retry(config)
            if con is None:
                return False  # stopped while the store was locked
            try:
                self.snapshots.opened(con)
                data = self._pipeline(con, config)
                snapshot = self.snapshots.rendered(self.snapshots.render(data, config), config)
                # /metrics has the release before the bulletin is read (on a big store that
                # takes longer than the refresh); the refresh is done and counted, and the
                # service ready, only once the store is closed
                if self.holder.get() is not None:
                    self.holder.set(snapshot)
                self.bulletins.collect(con, config)
            finally:
                with contextlib.suppress(duckdb.Error):  # a connection DuckDB gave up on
                    con.close()
        except StageError as exc:
            self.snapshots.forget()
            log.error("refresh failed: %s (serving the last good snapshot)", exc)
            self.holder.health_changed()
            return False
        self._served(snapshot, started)
        self.snapshots.save(snapshot, config)
        self.bulletins.rebuild()  # the wall board shows what the metrics show
        return True

    def _served(self, snapshot: Snapshot, started: float) -> None:
        self.health.duration.set(time.monotonic() - started)
        self.health.last_success.set(time.time())
        self.health.refreshes.inc()
        self.health.store_worked()
        self.snapshots.serve(snapshot)
        log.info("refresh done: %d series in %.2fs", snapshot.series, time.monotonic() - started)

    def _pipeline(self, con: duckdb.DuckDBPyConnection, config: Config) -> SnapshotData:
        try:
            outcomes = app.ingest_with(con, config)
        except (KpiwatchError, duckdb.Error, OSError) as exc:
            raise self._failed("ingest", exc, config) from exc
        for o in outcomes:
            if isinstance(o.error, StoreError) and self._reason(o.error, config) != "other":
                # the disk, not the file: the refresh fails; the file is not refused
                raise self._failed("ingest", o.error, config) from o.error
        for o in outcomes:
            if o.report is not None:
                self.health.ingested.inc(o.report.rows_read)
            elif o.error is not None:
                self.health.rejected_files.inc()
                bad = o.error.total if isinstance(o.error, IngestError) else 0
                self.health.rejected.inc(bad)
                log.warning("refused %s", first_line(o.error))
        stage = "checks"

        def entering(name: str) -> None:
            nonlocal stage
            stage = name

        plans: list[Plan] = []
        try:
            _, report = app.refresh_with(con, config, self.today, entering, on_plan=plans.append)
            self.health.fallbacks.inc(report.fallbacks)
        except (KpiwatchError, duckdb.Error, OSError) as exc:
            raise self._failed(stage, exc, config) from exc
        try:
            return self.snapshots.read(con, self.today, scope(plans[-1], config))
        except duckdb.Error as exc:
            raise self._failed("snapshot", exc, config) from exc

    def _reason(self, exc: BaseException, config: Config) -> str:
        return classify(exc, config.store_path)

    def _failed(self, stage: str, exc: BaseException, config: Config) -> StageError:
        """Count a failed stage; a failure of the store's file counts as the store's."""
        reason = self._reason(exc, config)
        if stage == "store" or reason != "other":
            stage = "store"
            self.store_fault = True
            self.health.store_failed(reason)
        self.health.failures.labels(stage).inc()
        what = f"store ({reason.replace('_', ' ')})" if stage == "store" else stage
        return StageError(f"{what}: {first_line(exc)}")

    def _open_with_retry(self, config: Config) -> duckdb.DuckDBPyConnection | None:
        """Open the store for writing, waiting with back-off while another process holds it."""
        delay = config.server.store_retry_seconds
        waited = False
        while not self.triggers.stop.is_set():
            try:
                con = open_store(config.store_path, False, config.store.memory_limit)
            except StoreError as exc:
                if self._reason(exc, config) != "locked":
                    raise self._failed("store", exc, config) from exc
                waited = True
                self.health.store_failed("locked")
                self.holder.health_changed()
                log.warning("store busy, retrying in %.0fs: %s", delay, first_line(exc))
                self.triggers.stop.wait(delay)
                delay = min(delay * 2, config.server.store_retry_max_seconds)
                continue
            if waited:  # the lock is gone, whatever the rest of the refresh brings
                self.health.store_worked()
                self.holder.health_changed()
            return con
        return None

    def close(self) -> None:
        """Stop the loop and the bulletin's drawing; end every worker process now, whatever
        it is doing (an operator's stop must not wait for charts or forecasts)."""
        self.triggers.stop.set()
        self.bulletins.close()
        stop_all()  # the render worker, the bulletin's chart workers, any other pool

    def load_last_snapshot(self) -> None:
        """Serve the saved snapshot, else what the store holds, before the first refresh."""
        self.snapshots.load_last(self.config, self.today)

    # -- reload ------------------------------------------------------------------
    def web_config(self, config: Config) -> WebConfig:
        web = config.server.web_config_file
        return load_web_config(config.resolve(web)) if web else WebConfig()

    def hooks(self, config: Config) -> Hooks:
        return Hooks(
            refresh_token(config),
            self.request_refresh,
            self.reload,
            lambda month, query: self.bulletins.page(self.config, month, query),
        )

    def reload(self) -> str | None:
        """Re-read config.toml and the web config; on any problem keep the old ones."""
        with self._reload_lock:
            try:
                config = load_config(self.config_path) if self.config_path else self.config
                web = self.web_config(config)
                if self.httpd is not None:
                    self.httpd.set_web(web)  # loads the certificate, or raises and changes nothing
            except KpiwatchError as exc:
                self.health.reload_ok.set(0)
                self.holder.health_changed()
                log.error("config reload failed, keeping the old config: %s", exc)
                return str(exc)
            if config.server.listen != self.config.server.listen:
                log.warning("[server] listen changed: it takes effect at the next start")
            self.config = config
            if self.httpd is not None:
                self.httpd.hooks = self.hooks(config)
                self.httpd.timeouts = timeouts(config)
            self.health.reload_ok.set(1)
            self.health.reload_time.set_to_current_time()
            self.holder.health_changed()
            log.info("config reloaded")
        self.request_refresh()
        return None

    def interrupt(self, signum: int, frame: object) -> None:
        """SIGINT, SIGTERM: stop, now (the loop's KeyboardInterrupt ends the service)."""
        self.triggers.stop.set()
        raise KeyboardInterrupt

    def reload_in_background(self) -> None:
        """Reload outside the signal handler (the main thread may be mid-refresh)."""
        threading.Thread(target=self.reload, name="reload", daemon=True).start()

    # -- the loop ----------------------------------------------------------------
    def request_refresh(self) -> None:
        self.triggers.event.set()

    def _inbox_folder(self) -> Path | None:
        inbox = self.config.server.inbox
        return None if inbox is None else self.config.resolve(inbox)

    def run_loop(self) -> None:
        """Refresh now, then on schedule, on request and on inbox changes, until stopped."""
        next_due = 0.0
        while not self.triggers.stop.is_set():
            server = self.config.server  # a reload may have replaced it
            now = time.monotonic()
            if now >= next_due or self.triggers.event.is_set():
                self.triggers.event.clear()
                # what this refresh's ingest reads: a file dropped later is the next one's
                listing = inbox_listing(self._inbox_folder())
                try:
                    ok = self.refresh()
                except RuntimeError:
                    if self.triggers.stop.is_set():  # DuckDB's word for Ctrl-C inside a query
                        raise KeyboardInterrupt from None
                    raise
                interval = server.refresh_interval_seconds
                if not ok and self.store_fault:  # a full disk or a bad mount may be fixed soon
                    interval = min(interval, server.store_retry_max_seconds)
                next_due = time.monotonic() + interval
                self.inbox.refreshed_with(listing)
                continue
            wait = min(next_due - now, server.inbox_poll_seconds)
            if self.triggers.event.wait(wait):
                continue
            if self.inbox.changed(self._inbox_folder()):
                log.info("new files in the inbox")
                self.triggers.event.set()


def serve(
    config: Config,
    listen: str | None = None,
    today: date | None = None,
    config_path: Path | None = None,
) -> None:
    """Run the service until interrupted; SIGHUP reloads the config."""
    where = parse_listen(listen or config.server.listen)
    service = Service(config, today, config_path)
    web = service.web_config(config)
    httpd = MetricsServer(
        where, service.holder, service.health, service.hooks(config), web, timeouts(config)
    )
    service.httpd = httpd
    # SIGTERM (systemd, docker stop) shuts down like Ctrl-C: workers stopped, socket closed.
    signal.signal(signal.SIGTERM, service.interrupt)
    signal.signal(signal.SIGINT, service.interrupt)
    signal.signal(signal.SIGHUP, lambda *_: service.reload_in_background())
    service.load_last_snapshot()
    httpd.serve_in_thread()
    log.info("serving on %s", where.url(httpd.scheme))
    if where.every_address:
        log.warning(
            "listening on every network address (port %d); give a host, e.g. "
            "127.0.0.1:%d, to serve this machine only",
            where.port,
            where.port,
        )
    try:
        service.run_loop()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        service.close()
        httpd.shutdown()


def scope(plan: Plan, config: Config) -> set[Key] | None:
    """The targets whose rows a refresh of this plan may change (None: any): those it
    recomputed, and the nowcasts' (a release of their monthly indicators moves them);
    on a new day any target may turn stale."""
    if plan.series is None or plan.restale:
        return None
    return {*plan.series, *((n.target, n.region) for n in config.nowcasts)}


def timeouts(config: Config) -> Timeouts:
    server = config.server
    return Timeouts(server.handshake_timeout_seconds, server.idle_timeout_seconds)


def refresh_token(config: Config) -> str | None:
    """The refresh token from the environment, else from the config (never logged)."""
    env = os.environ.get(config.server.refresh_token_env)
    if env:
        return env
    secret = config.server.refresh_token
    return secret.get_secret_value() if secret else None
