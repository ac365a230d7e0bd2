"""Event files read as a stream of documents, whatever their layout: NDJSON, pretty-printed JSON objects one
after the other (``evtx_dump``'s output, with or without its ``Record N`` lines), a JSON array, or a binary
``.evtx`` file (through the ``evtx`` package). Nothing holds a whole file: a 500 MB collection is read
record by record, and a record that cannot be read is handed on as ``Unreadable`` (counted, not fatal).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

EVTX_MAGIC = b"ElfFile\x00"
MAX_RECORD = 16 * 1024 * 1024  # a record larger than this is not JSON anyone sent on purpose


@dataclass(frozen=True)
class Unreadable:
    """A record that is not a document, and why."""

    reason: str


Record = tuple[int, Any]  # (line, or record number for .evtx; the document or Unreadable)


class _Counting(io.RawIOBase):
    """A file that remembers how far it has been read: the progress of a parser that reads it itself."""

    def __init__(self, handle: IO[bytes]) -> None:
        super().__init__()
        self.handle, self.consumed = handle, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.handle.readinto(buffer)  # type: ignore[attr-defined]
        self.consumed = max(self.consumed, self.handle.tell())
        return int(count or 0)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()


class EventFile:
    """One events file, iterated as ``(position, document | Unreadable)``; ``consumed`` says how many of
    its bytes have been read so far (for a progress bar)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.consumed = 0
        self._counting: _Counting | None = None

    def is_evtx(self) -> bool:
        with self.path.open("rb") as handle:
            return handle.read(len(EVTX_MAGIC)) == EVTX_MAGIC

    def __iter__(self) -> Iterator[Record]:
        if self.is_evtx():
            yield from self._evtx()
        else:
            yield from self._json()

    def _evtx(self) -> Iterator[Record]:
        from evtx import PyEvtxParser  # the Rust parser: imported only for .evtx files

        with self.path.open("rb") as handle:
            counting = _Counting(handle)
            try:
                records = PyEvtxParser(counting).records_json()
            except (OSError, RuntimeError) as error:
                yield 1, Unreadable(f"not a readable .evtx file: {error}")
                return
            number = 0
            while True:
                number += 1
                try:
                    record = next(records)
                except StopIteration:
                    break
                except (RuntimeError, OSError, ValueError) as error:  # a damaged chunk: its records are lost
                    yield number, Unreadable(f"damaged .evtx record: {str(error)[:300]}")
                    continue
                finally:
                    self.consumed = counting.consumed
                yield _decoded(number, record.get("data", "") if isinstance(record, dict) else None)

    def _json(self) -> Iterator[Record]:
        with self.path.open("rb") as handle:
            lines: list[bytes] = []
            start = size = 0
            overlong = False
            for number, raw in enumerate(handle, start=1):
                self.consumed += len(raw)
                if not raw.strip():
                    continue
                # Pretty-printed JSON goes on with indented lines and closing brackets; anything else at the
                # start of a line starts the next record (NDJSON: every line).
                if (lines or overlong) and raw[:1] in (b" ", b"\t", b"}", b"]", b",") and not _whole(lines):
                    size += len(raw)
                    if overlong:
                        continue
                    lines.append(raw)
                    if size > MAX_RECORD:
                        yield start, Unreadable(f"a record longer than {MAX_RECORD} bytes")
                        lines, overlong = [], True
                    continue
                if lines:
                    yield from _records(start, b"".join(lines))
                start, size, overlong = number, len(raw), False
                lines = [] if raw.startswith(b"Record ") else [raw]
            if lines:
                yield from _records(start, b"".join(lines))


def _whole(lines: list[bytes]) -> bool:
    """A record of one line that is a whole object already (NDJSON): the next line, even indented, is not
    part of it."""
    return (
        len(lines) == 1 and lines[0].rstrip()[-1:] in (b"}", b"]") and lines[0].lstrip()[:1] in (b"{", b"[")
    )


def _records(start: int, raw: bytes) -> Iterator[Record]:
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        yield start, Unreadable(f"not JSON: {error}")
        return
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        for item in document:  # a JSON array of events
            yield start, item
    else:
        yield start, document


def _decoded(number: int, data: Any) -> Record:
    try:
        return number, json.loads(data)
    except (TypeError, ValueError, RecursionError) as error:
        return number, Unreadable(f"not JSON: {error}")
