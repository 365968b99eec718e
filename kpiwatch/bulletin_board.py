"""The bulletin the service serves (电子展板): rebuilt after each good refresh, older
months built on request and kept until the next refresh changes what they would say."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import duckdb

from exporters.bulletin import Bulletin
from ingest.errors import KpiwatchError, StoreError, UsageError
from kpiwatch.config import Config
from kpiwatch.report import Request, build, collect, page

log = logging.getLogger("kpiwatch")
# A wall screen reloads the current bulletin this often (seconds).
RELOAD_SECONDS = 300

LATEST_SQL = "SELECT strftime(max(as_of_end), '%Y-%m') FROM progress"


class Bulletins:
    """Bulletin pages by month; the current month is the latest the store has checks for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pages: dict[str, bytes] = {}
        self._current: str | None = None
        self._generation = 0  # a page built on request is kept only if no refresh came between
        self._collected: tuple[str, tuple[Bulletin, str]] | None = None

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
        """After a good refresh: draw the collected month's page; older ones on request."""
        if self._collected is None:
            return
        month, found = self._collected
        self._collected = None
        try:
            html = page(found, _now(), RELOAD_SECONDS).encode("utf-8")
        except Exception:  # a drawing bug must not stop the service; the old page stays
            log.exception("the bulletin could not be drawn")
            return
        with self._lock:
            self._generation += 1
            self._pages = {month: html}
            self._current = month

    def page(self, config: Config, month: str | None) -> tuple[int, bytes]:
        """(status, body) for GET /bulletin (month None) or /bulletin/YYYY-MM."""
        with self._lock:
            month = month or self._current
            found = self._pages.get(month) if month else None
            generation = self._generation
        if month is None:
            return 503, b"no bulletin yet: the first refresh has not finished\n"
        if found is not None:
            return 200, found
        try:
            html = build(config, Request(month), generated=_now()).encode("utf-8")
        except UsageError as exc:
            return 404, f"{exc}\n".encode()
        except (StoreError, duckdb.Error, OSError) as exc:
            return 503, f"the store is busy, try again: {str(exc).splitlines()[0]}\n".encode()
        with self._lock:
            if generation == self._generation:
                self._pages.setdefault(month, html)
        return 200, html


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")
