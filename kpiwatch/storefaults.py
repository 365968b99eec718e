"""Why the DuckDB file could not be used, in the words an operator acts on.

locked      another process holds the file (wait: it is retried with back-off)
corrupt     the file is truncated or damaged (restore it from a backup)
unreadable  the file cannot be read (permissions, I/O errors)
read_only   the file or its folder cannot be written (a read-only mount, permissions)
no_space    the disk or a quota is full
other       none of these (the log has DuckDB's message)
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

# Phrases of DuckDB's messages, checked in order; the first that matches names the reason.
PHRASES = (
    ("locked", ("could not set lock", "conflicting lock")),
    ("no_space", ("no space left", "disk quota exceeded", "file too large")),
    ("read_only", ("read-only file system",)),
    (
        "corrupt",
        (
            "corrupt",
            "not a valid duckdb database",
            "could not read enough bytes",
            "checksum",
            "database has been invalidated",
        ),
    ),
    ("unreadable", ("input/output error",)),
)
ERRNOS = {
    errno.ENOSPC: "no_space",
    errno.EDQUOT: "no_space",
    errno.EFBIG: "no_space",
    errno.EROFS: "read_only",
    errno.EIO: "unreadable",
}


def classify(exc: BaseException, store: Path) -> str:
    """The reason (see the module's docstring) behind an error from the store."""
    chain = _chain(exc)
    for e in chain:
        if isinstance(e, OSError) and e.errno in ERRNOS:
            return ERRNOS[e.errno]
    text = " ".join(str(e) for e in chain).lower()
    for reason, phrases in PHRASES:
        if any(p in text for p in phrases):
            return reason
    if "permission denied" in text:
        # the same message whether the file cannot be read or its folder not written
        return "unreadable" if store.exists() and not os.access(store, os.R_OK) else "read_only"
    return "other"


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and what caused it, outermost first."""
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out
