"""Text files as a user's editor shows them: encoding, physical lines, records and limits.

Every failure to read a text file becomes an IngestError naming the file, the physical
line (as an editor numbers it) and what is wrong.
"""

from __future__ import annotations

import codecs
import csv
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from ingest.errors import IngestError, RowError

_CHUNK = 1 << 20
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def refuse(file: Path, line: int, field: str, value: str, reason: str) -> IngestError:
    """An IngestError for one problem that refuses the whole file."""
    return IngestError(str(file), [RowError(line, field, value, reason)])


def read_error(file: Path, exc: OSError) -> IngestError:
    """An IngestError for a file the system cannot read (permissions, a loop, a folder)."""
    return refuse(file, 0, "path", str(file), f"cannot be read: {exc.strerror or exc}")


def resolved(path: Path) -> Path:
    """The path resolved, or made absolute when it cannot be (a symlink loop, say).

    Matching a file to its source must not fail: reading it names the problem.
    """
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def check_readable(path: Path) -> None:
    """Refuse a path that is not a regular file this process can open."""
    try:
        with path.open("rb"):
            pass
    except FileNotFoundError as exc:
        raise refuse(path, 0, "path", str(path), "no such file") from exc
    except OSError as exc:
        raise read_error(path, exc) from exc
    if not path.is_file():
        raise refuse(path, 0, "path", str(path), "not a regular file")


def detect_encoding(path: Path, declared: str) -> str:
    """The file's text encoding: its byte order mark, the declared one, else UTF-8 or GB18030."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
            for bom, name in _BOMS:
                if head.startswith(bom):
                    return name
            if declared != "auto":
                return "utf-8-sig" if declared == "utf-8" else declared
            fh.seek(0)
            decoder = codecs.getincrementaldecoder("utf-8")()
            try:
                while chunk := fh.read(_CHUNK):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                return "gb18030"
    except OSError as exc:
        raise read_error(path, exc) from exc
    return "utf-8-sig"


def decoding_error(path: Path, encoding: str, offset: int) -> IngestError:
    """The refusal of a file whose byte at `offset` is not valid in its encoding."""
    with path.open("rb") as fh:
        prefix = fh.read(offset)
    line = prefix.decode(encoding, errors="replace").count("\n") + 1
    name = "utf-8" if encoding == "utf-8-sig" else encoding
    reason = f"byte {offset} is not {name} (save the file as UTF-8, or set encoding)"
    return refuse(path, line, "encoding", name, reason)


def first_invalid_byte(path: Path, encoding: str) -> int:
    """The offset of the first byte of `path` that does not decode (-1 when all do)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return offset + exc.start
    return -1


@contextmanager
def utf8_copy(path: Path, encoding: str) -> Iterator[Path]:
    """Yield a UTF-8 version of a text file, transcoding in chunks when needed."""
    if encoding == "utf-8-sig":
        yield path
        return
    decoder = codecs.getincrementaldecoder(encoding)()
    with tempfile.TemporaryDirectory(prefix="kpiwatch-") as tmp:
        out = Path(tmp) / "utf8.csv"
        with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
            offset = 0
            try:
                while chunk := src.read(_CHUNK):
                    dst.write(decoder.decode(chunk))
                    offset += len(chunk)
                dst.write(decoder.decode(b"", final=True))
            except UnicodeDecodeError as exc:
                raise decoding_error(path, encoding, offset + exc.start) from exc
        yield out


def scan_lines(path: Path, text: Path, max_bytes: int) -> int:
    """Count the lines of `text` up to its last one with content; refuse one over `max_bytes`.

    Chunks are no longer than the limit, so a line over it always crosses a chunk
    boundary: the scan looks at boundaries only and counts at memchr speed.
    """
    chunk_size = max(1, min(_CHUNK, max_bytes))
    newlines = run = content_lines = 0
    with text.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            first = chunk.find(b"\n")
            if (run + (len(chunk) if first < 0 else first)) > max_bytes:
                raise _too_long(path, newlines + 1, max_bytes)
            run = run + len(chunk) if first < 0 else len(chunk) - 1 - chunk.rfind(b"\n")
            newlines += chunk.count(b"\n")
            content = len(chunk.rstrip(b"\r\n"))
            if content:
                content_lines = newlines - chunk.count(b"\n", content)
    return content_lines + 1


def _too_long(path: Path, line: int, max_bytes: int) -> IngestError:
    reason = f"line longer than {max_bytes} bytes (raise [sources.limits] line_bytes)"
    return refuse(path, line, "line", f"line {line}", reason)


class _Lines:
    """Physical lines of a text file, counted, with the first change of line ending noted."""

    def __init__(self, fh: IO[str]) -> None:
        self._fh = fh
        self.count = 0
        self.ending = ""
        self.mixed_at = 0

    def __iter__(self) -> Iterator[str]:
        for line in self._fh:
            self.count += 1
            ending = line[len(line.rstrip("\r\n")) :]
            if ending and not self.ending:
                self.ending = ending
            elif ending and ending != self.ending and not self.mixed_at:
                self.mixed_at = self.count
            yield line


def records(path: Path, text: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(first physical line, fields) of each record of a UTF-8 CSV; an empty line gives []."""
    with text.open(encoding="utf-8-sig", newline="") as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        start = 1
        try:
            for fields in reader:
                yield start, fields
                start = lines.count + 1
        except csv.Error as exc:
            raise refuse(path, start, "csv", f"line {start}", _csv_reason(exc)) from exc


class LineRuns:
    """The first lines of records, in order, kept as runs of consecutive lines.

    Memory grows with the file's irregularities (empty lines, quoted line breaks),
    not with its rows: record r of a run starting at record f on line l is on line
    l + r - f.
    """

    def __init__(self, skip: int) -> None:
        self.skip, self.count, self.last = skip, 0, -2
        self.firsts: list[np.ndarray] = []
        self.lines: list[np.ndarray] = []

    def add(self, lines: np.ndarray) -> None:
        """Append the first lines of the next records (the first `skip` ever are dropped)."""
        dropped = min(self.skip, len(lines))
        lines, self.skip = lines[dropped:], self.skip - dropped
        if not len(lines):
            return
        breaks = np.flatnonzero(lines != np.concatenate(([self.last], lines[:-1])) + 1)
        self.firsts.append(breaks + self.count)
        self.lines.append(lines[breaks])
        self.count, self.last = self.count + len(lines), int(lines[-1])

    def frame(self) -> pd.DataFrame:
        """The runs as (first record, its line)."""
        first = np.concatenate(self.firsts) if self.firsts else np.zeros(0, np.int64)
        line = np.concatenate(self.lines) if self.lines else np.zeros(0, np.int64)
        return pd.DataFrame({"first": first.astype(np.int64), "line": line.astype(np.int64)})


def record_runs(path: Path, text: Path, delimiter: str, skip: int, rows: int) -> LineRuns:
    """The first line of each of the `rows` non-empty records after the first `skip`."""
    runs = LineRuns(skip)
    if record_starts(text, delimiter, runs) and runs.count == rows:
        return runs
    runs = LineRuns(skip)  # a stray quote, a lone CR: only parsing the cells can tell
    batch: list[int] = []
    for line, fields in records(path, text, delimiter):
        if fields:
            batch.append(line)
        if len(batch) >= 1 << 16:
            runs.add(np.array(batch, dtype=np.int64))
            batch = []
    runs.add(np.array(batch, dtype=np.int64))
    return runs


def record_starts(text: Path, delimiter: str, runs: LineRuns) -> bool:
    """The first physical line of each non-empty record of a UTF-8 CSV, by quote parity.

    A record goes on while an odd number of quotes is open (a doubled quote inside a
    quoted cell adds two); empty lines between records are skipped, as DuckDB does.
    Vectorised over blocks of whole lines. False when a quote stands where quoting
    does not explain it (inside an unquoted cell): then only parsing the cells can tell.
    """
    if len(delimiter.encode()) != 1:
        return False
    line, parity, rest = 1, 0, b""
    with text.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK * 4)
            block = rest + chunk
            cut = len(block) if not chunk else block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            if block:
                done = _block_starts(block, parity, delimiter.encode()[0])
                if done is None:
                    return False
                starts, lines, quotes = done
                runs.add(starts + line)
                line, parity = line + lines, (parity + quotes) % 2
            if not chunk:
                break
    return True


def _block_starts(block: bytes, parity: int, delimiter: int) -> tuple[np.ndarray, int, int] | None:
    """Record-starting line offsets in a block of whole lines, its line and quote counts."""
    data = np.frombuffer(block, dtype=np.uint8)
    quotes = np.flatnonzero(data == 34)
    opening = (parity + np.arange(len(quotes))) % 2 == 0
    before = np.where(quotes > 0, data[np.maximum(quotes - 1, 0)], 10)
    after = np.where(quotes + 1 < len(data), data[np.minimum(quotes + 1, len(data) - 1)], 10)
    if np.any(opening & ~np.isin(before, [delimiter, 10, 34])) or np.any(
        ~opening & ~np.isin(after, [delimiter, 13, 10, 34])
    ):
        return None
    ends = np.flatnonzero(data == 10)
    if not block.endswith(b"\n"):
        ends = np.append(ends, len(data))
    begins = np.concatenate(([0], ends[:-1] + 1))
    open_at = (parity + np.searchsorted(quotes, begins)) % 2
    length = ends - begins
    ends_cr = (length > 0) & (data[np.maximum(ends - 1, 0)] == 13)
    blank = (length - ends_cr) == 0
    offsets = np.flatnonzero((open_at == 0) & ~blank).astype(np.int64)
    return offsets, len(ends), len(quotes)


def first_fault(path: Path, text: Path, delimiter: str, header_row: int) -> RowError | None:
    """The first structural fault of a CSV by physical line: line endings or field counts."""
    with text.open(encoding="utf-8-sig", newline="") as fh:
        lines = _Lines(fh)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        width, start = 0, 1
        try:
            for n, fields in enumerate(reader, 1):
                if lines.mixed_at:
                    reason = f"mixed line endings: this line ends unlike line 1 ({lines.ending!r})"
                    return RowError(lines.mixed_at, "line ending", f"line {lines.mixed_at}", reason)
                if n == header_row:
                    width = len(fields)
                elif n > header_row and fields and len(fields) != width:
                    shown = delimiter.join(fields)
                    reason = f"expected {width} fields as in the header, found {len(fields)}"
                    return RowError(start, "csv", shown, reason)
                start = lines.count + 1
        except csv.Error as exc:
            return RowError(start, "csv", f"line {start}", _csv_reason(exc))
    return None


def _csv_reason(exc: csv.Error) -> str:
    if "unexpected end of data" in str(exc):
        return "a quote opened in this row is never closed: the rest of the file would be one cell"
    return f"unreadable CSV: {exc}"
