"""The bulletin the service serves (电子展板): rebuilt after each good refresh; older
months and a region's or a unit's bulletin (?region=R&unit=U) built on request and kept
until the next refresh changes what they would say."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import datetime
from urllib.parse import parse_qs

import duckdb

from exporters.bulletin import Bulletin, DrawingCancelled
from ingest.errors import KpiwatchError, StoreError, UsageError
from kpiwatch.config import Config
from kpiwatch.report import Request, build, collect, page

log = logging.getLogger("kpiwatch")
# A wall screen reloads the current bulletin this often (seconds).
RELOAD_SECONDS = 300
# How much lower the drawing of a page runs than the refreshes (a nice increment).
NICER = 10

LATEST_SQL = "SELECT strftime(max(as_of_end), '%Y-%m') FROM progress"
# Pages built on request kept at once (a large store's page is tens of megabytes).
KEPT = 16
SCOPES = ("region", "unit")
# A page: its month, region and unit as asked for.
Key = tuple[str, str | None, str | None]


class BadQuery(ValueError):
    """A query string /bulletin does not take."""


class Bulletins:
    """Bulletin pages by month; the current month is the latest the store has checks for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[Key, bytes] = {}
        self._current: str | None = None
        self._generation = 0  # a page built on request is kept only if no refresh came between
        self._collected: tuple[str, tuple[Bulletin, str]] | None = None
        self._pending: tuple[str, tuple[Bulletin, str]] | None = None  # the next to draw
        self._drawer: threading.Thread | None = None
        self._stop = threading.Event()  # the service is stopping: no page is drawn to the end

    def collect(self, con: duckdb.DuckDBPyConnection, config: Config) -> None:
        """Read the current month's bulletin on the refresh's own connection: the store
        is opened once a refresh, and only while it runs."""
        self._collected = None
        try:
            row = con.execute(LATEST_SQL).fetchone()
            if row and row[0]:
                self._collected = (str(row[0]), collect(con, config, Request(str(row[0]))))
        except (KpiwatchError, duckdb.Error) as exc:
            log.warning("the bulletin was not rebuilt: %s", str(exc).splitlines()[0])

    def rebuild(self) -> None:
        """After a good refresh: draw the collected month's page in the background (older
        months on request). A big store's page holds thousands of charts: the refresh loop
        must not wait for them, or files dropped into the inbox wait as long."""
        if self._collected is None:
            return
        with self._lock:
            self._pending, self._collected = self._collected, None
            if self._drawer is not None:
                return  # it draws this page once the one it is drawing is done
            self._drawer = threading.Thread(target=self._draw, name="bulletin", daemon=True)
            self._drawer.start()

    def close(self) -> None:
        """Call off the pages being drawn, in the background or on request: their chart
        workers end at once, mid-chunk."""
        self._stop.set()

    def drawing(self) -> bool:
        """Whether a page collected by a refresh is still being drawn."""
        with self._lock:
            return self._drawer is not None

    def _draw(self) -> None:
        """Draw the newest collected page until none is waiting; a page overtaken by a
        newer refresh's while it was drawn is replaced by it right after."""
        _yield_cores()
        while True:
            with self._lock:
                job, self._pending = self._pending, None
                if job is None:
                    self._drawer = None
                    return
            month, found = job
            try:
                html = page(found, _now(), RELOAD_SECONDS, self._stop).encode("utf-8")
            except DrawingCancelled:
                with self._lock:
                    self._drawer = None
                return
            except Exception:  # a drawing bug must not stop the service; the old page stays
                log.exception("the bulletin could not be drawn")
                continue
            with self._lock:
                self._generation += 1
                self._pages = {(month, None, None): html}
                self._current = month

    def page(self, config: Config, month: str | None, query: str = "") -> tuple[int, bytes]:
        """(status, body) for GET /bulletin (month None) or /bulletin/YYYY-MM, with the
        query string's region and unit; a page a refresh would change is not kept."""
        try:
            region, unit = scope(query)
        except BadQuery as exc:
            return 400, f"{exc}\n".encode()
        with self._lock:
            current = month is None
            month = month or self._current
            key = (month, region, unit) if month else None
            found = self._pages.get(key) if key else None
            generation = self._generation
        if key is None:
            return 503, b"no bulletin yet: the first refresh has not finished\n"
        if found is not None:
            return 200, found
        try:
            html = self._build(config, key, current, self._stop)
        except DrawingCancelled:
            return 503, b"the service is stopping\n"
        except UsageError as exc:  # no such month, region or unit: the reason, not a page
            return 404, f"{exc}\n".encode()
        except (StoreError, duckdb.Error, OSError) as exc:
            return 503, f"the store is busy, try again: {str(exc).splitlines()[0]}\n".encode()
        with self._lock:
            if generation == self._generation:
                self._keep(key, html)
        return 200, html

    @staticmethod
    def _build(config: Config, key: Key, current: bool, cancel: threading.Event) -> bytes:
        """A page built on request; the current month's reloads itself on a wall screen."""
        reload = RELOAD_SECONDS if current else None
        return build(config, Request(*key), _now(), reload, cancel).encode("utf-8")

    def _keep(self, key: Key, html: bytes) -> None:
        """Keep a page until the next refresh; the oldest built on request goes first."""
        self._pages.setdefault(key, html)
        built = [k for k in self._pages if k != (self._current, None, None)]
        for old in built[: max(0, len(built) - KEPT)]:
            del self._pages[old]


def scope(query: str) -> tuple[str | None, str | None]:
    """The region and the unit a query string asks for (each at most once)."""
    try:
        asked = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise BadQuery(f"query {query!r}: expected region=R&unit=U") from exc
    unknown = sorted(set(asked) - set(SCOPES))
    if unknown:
        raise BadQuery(f"unknown parameter {unknown[0]!r}: /bulletin takes region and unit")
    for name, values in asked.items():
        if len(values) > 1 or not values[0].strip():
            raise BadQuery(f"{name}: give one non-empty value")
    region, unit = (asked[name][0].strip() if name in asked else None for name in SCOPES)
    return region, unit


def _yield_cores() -> None:
    """Run this thread, and the chart workers it starts (they inherit its priority),
    below the refreshes: the wall board can wait, the metrics should not."""
    me = threading.get_native_id()
    with contextlib.suppress(OSError):  # a platform without per-thread priorities
        os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + NICER))


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")
