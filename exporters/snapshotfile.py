"""The last good snapshot saved beside the store, so that a restart serves it at once.

`<store>.snapshot` holds one header line of JSON (sizes, counts, a SHA-256 of the
body) and the gzip-compressed text and OpenMetrics renderings. It is written whole
(temp file, then rename) after each successful refresh; a file that does not check
out is ignored, never served.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

from exporters.snapshot import Snapshot
from ingest.files import write_atomic

MAGIC = b"kpiwatch-snapshot 1\n"


def snapshot_path(store: Path) -> Path:
    """Where the snapshot of a store is kept: beside it."""
    return store.with_name(store.name + ".snapshot")


def remove_leftovers(path: Path) -> list[Path]:
    """Delete temp files of saves a kill interrupted (write_atomic's `.<name>.*`)."""
    leftovers = sorted(path.parent.glob(f".{path.name}.*"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


def save_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write the snapshot atomically; OSError when the disk refuses."""
    body = gzip.compress(snapshot.text + snapshot.openmetrics, 1)
    header = {
        "series": snapshot.series,
        "dropped": snapshot.dropped,
        "built_at": snapshot.built_at,
        "text_bytes": len(snapshot.text),
        "openmetrics_bytes": len(snapshot.openmetrics),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    write_atomic(path, MAGIC + json.dumps(header).encode() + b"\n" + body)


def load_snapshot(path: Path) -> Snapshot | None:
    """The saved snapshot, or None when there is none; ValueError when it does not check out."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    if not raw.startswith(MAGIC):
        raise ValueError(f"{path}: not a kpiwatch snapshot")
    head, _, body = raw[len(MAGIC) :].partition(b"\n")
    try:
        header = json.loads(head)
        if hashlib.sha256(body).hexdigest() != header["sha256"]:
            raise ValueError("checksum mismatch")
        both = gzip.decompress(body)
        cut = int(header["text_bytes"])
        if len(both) != cut + int(header["openmetrics_bytes"]):
            raise ValueError("sizes do not match")
        return Snapshot(
            both[:cut],
            both[cut:],
            int(header["series"]),
            float(header["built_at"]),
            int(header["dropped"]),
        )
    except (ValueError, KeyError, TypeError, OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: damaged snapshot ({exc})") from exc
